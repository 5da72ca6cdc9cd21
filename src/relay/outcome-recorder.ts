import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type pg from 'pg'
import { recordOutcomes, type DisablePolicy, type RecordedOutcome } from './sql/record-outcomes.ts'
import { releaseDeliveries } from './sql/release.ts'
import { minimalOutcome, storableOutcome } from './storable-outcome.ts'

interface Pending<T> {
  item: T
  resolve: (updated: boolean) => void
  /** resolved already: a batch that is written again after a failure skips it */
  settled?: boolean
}

/** Largest batch in one statement. */
const MAX_BATCH = 500

/**
 * Whether a failed write is worth repeating as it is: the database is away,
 * restarting, overloaded or chose this statement as a deadlock victim. Anything
 * else (a value refused, a constraint violated) fails again every time, so the
 * batch is split instead, to find the one outcome the database refuses.
 */
export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true // a socket error, a timeout: no SQLSTATE
  return /^(08|40|53|55|57|58)/.test(code)
}

/**
 * Writes outcomes in batches: while one batch is being written, the next
 * accumulates, so at high throughput one statement records many deliveries and
 * at low throughput each is written at once. If the database is unreachable the
 * outcomes wait here (bounded by the relay's concurrency, since a slot is freed
 * only once its outcome is written) and are retried with backoff.
 *
 * An outcome is data the relay must always be able to write: each is made
 * storable first (src/relay/storable-outcome.ts), and a batch the database still
 * refuses for its content is split in halves until the refused outcome stands
 * alone; that one is recorded without its details (and logged), or, if even that
 * is refused, given up (its lease runs out and it is delivered again). One bad
 * row never holds the others, and no slot waits on it for ever.
 */
export class OutcomeRecorder {
  private outcomes: Pending<RecordedOutcome>[] = []
  private releases: Pending<{ id: number; leaseId: string }>[] = []
  private flushing: Promise<void> | undefined
  private abandoned = false

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly disablePolicy: DisablePolicy,
  ) {}

  /** Resolves true if the delivery still held its lease and moved on, false if fenced off (or given up). */
  record(outcome: RecordedOutcome): Promise<boolean> {
    return new Promise((resolve) => {
      this.outcomes.push({ item: storableOutcome(outcome), resolve })
      this.flush()
    })
  }

  release(claim: { id: number; leaseId: string }): Promise<boolean> {
    return new Promise((resolve) => {
      this.releases.push({ item: claim, resolve })
      this.flush()
    })
  }

  /** Waits for everything queued to be written. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing
  }

  /**
   * Stops retrying writes (shutdown with the database gone): what is queued is
   * dropped, and those deliveries are redelivered when their lease runs out.
   */
  abandon(): void {
    this.abandoned = true
    for (const p of [...this.outcomes, ...this.releases]) p.resolve(false)
    this.outcomes = []
    this.releases = []
  }

  private flush(): void {
    this.flushing ??= this.writeAll().finally(() => {
      this.flushing = undefined
    })
  }

  private async writeAll(): Promise<void> {
    let failures = 0
    while (!this.abandoned && (this.outcomes.length > 0 || this.releases.length > 0)) {
      const outcomes = this.outcomes.splice(0, MAX_BATCH)
      const releases = this.releases.splice(0, MAX_BATCH)
      const [wrote, released] = await Promise.allSettled([this.writeOutcomes(outcomes), this.writeReleases(releases)])
      const failed = [wrote, released].find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (!failed) {
        failures = 0
        continue
      }
      // the database is away or restarting: put back what is unwritten, in front, and wait
      this.outcomes.unshift(...outcomes.filter((p) => !p.settled))
      this.releases.unshift(...releases.filter((p) => !p.settled))
      failures++
      const delay = Math.min(5000, 100 * 2 ** failures)
      this.log.error({ err: failed.reason, retryInMs: delay, queued: this.outcomes.length }, 'could not record delivery outcomes; retrying')
      await sleep(delay)
    }
  }

  private async writeReleases(releases: Pending<{ id: number; leaseId: string }>[]): Promise<void> {
    if (releases.length === 0) return
    await releaseDeliveries(this.pool, releases.map((p) => p.item))
    for (const p of releases) settle(p, true)
  }

  /** Writes a batch; rejects only for a transient failure (the caller retries the unsettled rest). */
  private async writeOutcomes(batch: Pending<RecordedOutcome>[]): Promise<void> {
    const pending = batch.filter((p) => !p.settled)
    if (pending.length === 0) return
    try {
      const updated = await recordOutcomes(this.pool, pending.map((p) => p.item), this.disablePolicy)
      for (const p of pending) settle(p, updated.has(p.item.id))
      return
    } catch (error) {
      if (isTransient(error)) throw error
      if (pending.length > 1) {
        const half = Math.ceil(pending.length / 2)
        await this.writeOutcomes(pending.slice(0, half))
        await this.writeOutcomes(pending.slice(half))
        return
      }
      await this.writeRefused(pending[0]!, error)
    }
  }

  /** One outcome the database refused: recorded without its details, or given up. Logged once either way. */
  private async writeRefused(refused: Pending<RecordedOutcome>, error: unknown): Promise<void> {
    const code = String((error as { code?: unknown }).code ?? 'unknown error')
    const fields = { err: error, delivery: refused.item.id, attempt: refused.item.attempt }
    try {
      const updated = await recordOutcomes(this.pool, [minimalOutcome(refused.item, code)], this.disablePolicy)
      this.log.error(fields, `the outcome of delivery ${refused.item.id} was refused by the database; recorded without its details`)
      settle(refused, updated.has(refused.item.id))
    } catch (again) {
      if (isTransient(again)) throw again
      this.log.error(fields, `the outcome of delivery ${refused.item.id} cannot be recorded; it will be delivered again when its lease runs out`)
      settle(refused, false)
    }
  }
}

function settle<T>(pending: Pending<T>, updated: boolean): void {
  pending.settled = true
  pending.resolve(updated)
}
