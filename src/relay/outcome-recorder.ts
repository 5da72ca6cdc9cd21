import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type pg from 'pg'
import { recordOutcomes, type DisablePolicy, type RecordedOutcome } from './sql/record-outcomes.ts'
import { releaseDeliveries } from './sql/release.ts'

interface Pending<T> {
  item: T
  resolve: (updated: boolean) => void
}

/** Largest batch in one statement. */
const MAX_BATCH = 500

/**
 * Writes outcomes in batches: while one batch is being written, the next
 * accumulates, so at high throughput one statement records many deliveries and
 * at low throughput each is written at once. If the database is unreachable the
 * outcomes wait here (bounded by the relay's concurrency, since a slot is freed
 * only once its outcome is written) and are retried with backoff.
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

  /** Resolves true if the delivery still held its lease and moved on, false if fenced off. */
  record(outcome: RecordedOutcome): Promise<boolean> {
    return new Promise((resolve) => {
      this.outcomes.push({ item: outcome, resolve })
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
      try {
        const [updated] = await Promise.all([
          outcomes.length ? recordOutcomes(this.pool, outcomes.map((p) => p.item), this.disablePolicy) : new Set<number>(),
          releases.length ? releaseDeliveries(this.pool, releases.map((p) => p.item)) : 0,
        ])
        for (const p of outcomes) p.resolve(updated.has(p.item.id))
        for (const p of releases) p.resolve(true)
        failures = 0
      } catch (error) {
        // put them back in front and wait: the database may be restarting
        this.outcomes.unshift(...outcomes)
        this.releases.unshift(...releases)
        failures++
        const delay = Math.min(5000, 100 * 2 ** failures)
        this.log.error({ err: error, retryInMs: delay, queued: this.outcomes.length }, 'could not record delivery outcomes; retrying')
        await sleep(delay)
      }
    }
  }
}
