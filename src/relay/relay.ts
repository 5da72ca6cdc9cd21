import { randomUUID } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { leaseMs, type Config } from '../config.ts'
import type { DatabaseHandle } from '../db/database.ts'
import { isDatabaseUnavailable } from '../db/unavailable.ts'
import { claimBatchSize } from '../metrics/process-metrics.ts'
import { DELIVERY_CHANNEL } from '../outbox/emit.ts'
import type { SecretCipher } from '../secrets/cipher.ts'
import { SigningKeys } from '../secrets/signing-keys.ts'
import { Dispatcher, type DispatchConfig } from './dispatcher.ts'
import { listen, type Listener } from './listener.ts'
import { claimDeliveries } from './sql/claim.ts'
import { runMaintenance } from './maintenance.ts'

/** What a relay reads: the dispatcher's settings and its own loop's. */
export type RelayConfig = DispatchConfig &
  Pick<
    Config,
    | 'RELAY_POLL_INTERVAL_MS'
    | 'RELAY_SHUTDOWN_GRACE_MS'
    | 'RELAY_LEASE_MARGIN_MS'
    | 'PLUGIN_MAX_IN_FLIGHT'
    | 'RETENTION_DAYS'
    | 'RETENTION_DUTY_PERCENT'
  >

export type RelayState = 'idle' | 'running' | 'stopping' | 'stopped'

/** How often housekeeping runs (src/relay/maintenance.ts). */
const MAINTENANCE_INTERVAL_MS = 60_000

interface InFlight {
  id: number
  leaseId: string
  done: Promise<unknown>
}

/**
 * The relay: claims due deliveries and delivers them with bounded concurrency,
 * woken by NOTIFY and, as a fallback, by a poll. Any number may run against one
 * database; SKIP LOCKED and leases keep them out of each other's way.
 *
 * The loop (after pg-boss's worker): claim as many as there are free slots, start
 * them, then sleep until a NOTIFY, a freed slot or the poll interval, whichever
 * comes first. stop() sets the flag, wakes the sleep, and waits for the loop.
 */
export class Relay {
  readonly id = randomUUID()
  readonly dispatcher: Dispatcher
  state: RelayState = 'idle'
  lastClaimError: string | null = null
  delivered = 0

  /**
   * Keyed by delivery and lease: a delivery whose lease ran out while its attempt
   * was still being recorded can be claimed again by this same relay, and the two
   * attempts must not overwrite (and then delete) each other's entry.
   */
  private readonly inFlight = new Map<string, InFlight>()
  private listener: Listener | undefined
  private loopDone: Promise<void> | undefined
  private wakeSleeper: (() => void) | undefined
  /** aborts every in-flight POST when the shutdown grace runs out (one signal for all: no allocation per delivery) */
  private readonly shutdown = new AbortController()
  private completedSinceClaim = 0
  private wakeRequested = false
  private moreMayBeDue = false
  private maintenance: NodeJS.Timeout | undefined
  /** ends a maintenance run between two retention batches when the relay stops */
  private readonly maintenanceStop = new AbortController()
  private maintaining = false

  constructor(
    private readonly handle: DatabaseHandle,
    private readonly databaseUrl: string,
    private readonly config: RelayConfig,
    private readonly log: Logger,
    /** decrypts the plugins' signing secrets (src/secrets/secrets-key.ts loads it at start) */
    cipher: SecretCipher,
  ) {
    // every in-flight POST listens on the one shutdown signal
    setMaxListeners(0, this.shutdown.signal)
    this.dispatcher = new Dispatcher(handle.pool, config, log, new SigningKeys(handle.db, cipher))
  }

  get listenerConnected(): boolean {
    return this.listener?.connected ?? false
  }

  /** times the LISTEN connection was lost and re-established */
  get listenerReconnects(): number {
    return this.listener?.reconnects ?? 0
  }

  get inFlightCount(): number {
    return this.inFlight.size
  }

  start(): void {
    if (this.state !== 'idle') return
    this.state = 'running'
    this.listener = listen({
      connectionString: this.databaseUrl,
      channel: DELIVERY_CHANNEL,
      onWake: () => this.wake(),
      log: this.log,
    })
    this.maintenance = setInterval(() => void this.maintain(), MAINTENANCE_INTERVAL_MS).unref()
    this.loopDone = this.loop()
    this.log.info({ relay: this.id, concurrency: this.config.RELAY_CONCURRENCY }, 'relay started')
  }

  /**
   * Housekeeping (src/relay/maintenance.ts); a failure is logged and tried again next
   * time. A run still going when the next is due (a slow database) is not doubled.
   */
  async maintain(): Promise<void> {
    if (this.maintaining) return
    this.maintaining = true
    try {
      const result = await runMaintenance(this.handle.db, this.config.RETENTION_DAYS, {
        duty: this.config.RETENTION_DUTY_PERCENT / 100,
        signal: this.maintenanceStop.signal,
      })
      if (result.unparked || result.cancelled || result.deliveriesDeleted || result.eventsDeleted) {
        this.log.info(result, 'relay maintenance')
      }
    } catch (error) {
      this.log.warn({ err: error }, 'relay maintenance failed')
    } finally {
      this.maintaining = false
    }
  }

  /** Look for due work now (a NOTIFY, a reconnect, a freed slot). Coalesces: many wakes, one claim. */
  wake(): void {
    this.wakeRequested = true
    this.wakeSleeper?.()
  }

  private async loop(): Promise<void> {
    let failures = 0
    while (this.state === 'running') {
      this.wakeRequested = false
      const free = this.config.RELAY_CONCURRENCY - this.inFlight.size
      if (free > 0) {
        try {
          const leaseId = randomUUID()
          const rows = await claimDeliveries(this.handle.pool, free, leaseId, leaseMs(this.config), null, this.config.PLUGIN_MAX_IN_FLIGHT)
          claimBatchSize.observe(rows.length)
          this.lastClaimError = null
          failures = 0
          // a claim can come back short, or empty, because of per-plugin caps while more is
          // due: only an empty claim with nothing in flight means "nothing to do until woken"
          this.moreMayBeDue = rows.length > 0 || this.inFlight.size > 0
          this.completedSinceClaim = 0
          for (const row of rows) this.start1(row, leaseId)
        } catch (error) {
          // the database is away: back off instead of hot-looping, the poll resumes us
          failures++
          this.lastClaimError = (error as Error).message
          const retryInMs = Math.min(this.config.RELAY_POLL_INTERVAL_MS, 100 * 2 ** failures)
          // an outage is expected weather: one warn line per attempt, not a stack trace each
          if (isDatabaseUnavailable(error)) this.log.warn({ error: this.lastClaimError, retryInMs }, 'relay could not claim deliveries: database unavailable')
          else this.log.error({ err: error }, 'relay could not claim deliveries')
          await this.sleep(retryInMs)
          continue
        }
      }
      if (this.state !== 'running') break
      if (this.wakeRequested) continue
      await this.sleep(this.config.RELAY_POLL_INTERVAL_MS)
    }
  }

  private start1(row: Parameters<Dispatcher['deliver']>[0], leaseId: string): void {
    const key = `${row.id}:${leaseId}`
    const done = this.dispatcher
      .deliver(row, leaseId, { signal: this.shutdown.signal })
      .then(({ status, delayMs }) => {
        if (status === 'sent') this.delivered++
        // a retry due before the next poll wakes the loop itself, on time
        if (status === 'retry' && delayMs < this.config.RELAY_POLL_INTERVAL_MS && this.state === 'running') {
          setTimeout(() => this.wake(), delayMs).unref()
        }
      })
      .catch((error) => this.log.error({ err: error, delivery: row.id }, 'delivery crashed; its lease will expire and it will be retried'))
      .finally(() => {
        this.inFlight.delete(key)
        // refill in batches, not one claim per finished delivery: once a quarter of what
        // one claim may take has finished (or everything has). Not a share of the last
        // claim: after an empty claim that is 0, and every completion would claim.
        this.completedSinceClaim++
        const batch = Math.ceil(Math.min(this.config.RELAY_CONCURRENCY, this.config.PLUGIN_MAX_IN_FLIGHT) / 4)
        if (this.moreMayBeDue && (this.completedSinceClaim >= batch || this.inFlight.size === 0)) this.wake()
      })
    this.inFlight.set(key, { id: row.id, leaseId, done })
  }

  /** Sleeps until `ms` pass or wake() is called. A plain timer: wakes are frequent, and an aborted signal costs an exception each. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms)
      this.wakeSleeper = finish
      const self = this
      function finish() {
        clearTimeout(timer)
        self.wakeSleeper = undefined
        resolve()
      }
    })
  }

  /**
   * Graceful stop: claim nothing more, let in-flight deliveries finish within the
   * grace period, abort the rest (they are released, due again at once), write
   * every outcome, close the listener.
   */
  async stop(graceMs = this.config.RELAY_SHUTDOWN_GRACE_MS): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return this.loopDone
    if (this.state === 'idle') {
      this.state = 'stopped'
      return
    }
    this.state = 'stopping'
    clearInterval(this.maintenance)
    this.maintenanceStop.abort()
    this.wakeSleeper?.()
    await this.loopDone
    const pending = [...this.inFlight.values()]
    if (pending.length > 0) {
      this.log.info({ inFlight: pending.length, graceMs }, 'relay stopping: waiting for in-flight deliveries')
      const all = Promise.allSettled(pending.map((p) => p.done))
      const timer = sleep(graceMs, 'timeout' as const)
      if ((await Promise.race([all, timer])) === 'timeout') {
        this.shutdown.abort()
      }
      // after an abort, outcomes and releases are written; if the database is gone, give up
      // after one more grace period: leases expire and the deliveries are redelivered
      const written = Promise.allSettled([...this.inFlight.values()].map((p) => p.done)).then(() => this.dispatcher.recorder.drain())
      if ((await Promise.race([written, sleep(Math.max(graceMs, 5000), 'timeout' as const)])) === 'timeout') {
        this.dispatcher.recorder.abandon()
      }
    }
    await this.dispatcher.close()
    await this.listener?.close()
    this.state = 'stopped'
    this.log.info({ relay: this.id }, 'relay stopped')
  }
}
