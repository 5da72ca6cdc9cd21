import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'kysely'
import type { Logger } from 'pino'
import { alertOnAttempts, alertOnBacklog, alertOnDisabled, alertOnSloBurn } from '../alerts/monitor.ts'
import type { Config } from '../config.ts'
import type { Database } from '../db/database.ts'
import { dayTotals, GRAINS, rollUp, rollUpApps } from './rollup.ts'
import { advanceWatermark, nextSlice } from './sql/next-slice.ts'
import { readAttempts } from './sql/read-attempts.ts'
import { addToTotals, pruneRollups, upsertAppRollups, upsertRollups } from './sql/upsert-rollups.ts'

/** Attempts folded per transaction: a run stays short, and so does the lock it holds. */
export const SLICE_ROWS = 20_000
/**
 * The backlog check (bounded by the plugins late in the ready set, src/alerts/monitor.ts)
 * runs every this-many runs: a minute at the default ANALYTICS_INTERVAL_MS of 5 s.
 */
const SLOW_CHECKS_EVERY = 12
/** Rollups past their keeping are deleted every this-many runs. */
const PRUNE_EVERY = 120

export type AggregatorConfig = Pick<
  Config,
  'ANALYTICS_INTERVAL_MS' | 'ANALYTICS_HOUR_RETENTION_DAYS' | 'ANALYTICS_RETENTION_DAYS' | 'ALERT_FAILING_AFTER' | 'ALERT_BACKLOG_AFTER_MS'
>

export interface AggregateResult {
  /** every attempt of a transaction below this one is now in the rollups */
  upto: number
  attempts: number
  rollups: number
  alerts: number
}

/**
 * One run: folds the next slice of committed attempts into the minute, hour and
 * day rollups, raises the alerts they imply, and moves the watermark, all in one
 * transaction, so a run that dies changes nothing and the next one redoes it.
 * Returns null when another process holds the watermark (it is doing this now).
 */
export async function aggregateOnce(db: Database, config: AggregatorConfig, options: { slowChecks?: boolean } = {}): Promise<AggregateResult | null> {
  return db.transaction().execute(async (trx) => {
    const slice = await nextSlice(trx, SLICE_ROWS)
    if (slice === null) return null
    const rows = slice.upto > slice.from ? await readAttempts(trx, slice) : []
    let rollups = 0
    for (const grain of GRAINS) {
      const r = rollUp(rows, grain)
      await upsertRollups(trx, grain, r)
      await upsertAppRollups(trx, grain, rollUpApps(rows, grain))
      rollups += r.length
    }
    await addToTotals(trx, dayTotals(rows))
    let alerts = await alertOnAttempts(trx, rows, config.ALERT_FAILING_AFTER)
    // every check reads a bounded set: the recently disabled, the watched SLOs (a batch), the backlogged
    alerts += (await alertOnDisabled(trx)) + (await alertOnSloBurn(trx))
    if (options.slowChecks) alerts += await alertOnBacklog(trx, config.ALERT_BACKLOG_AFTER_MS)
    // a slice without attempts leaves the watermark alone: nothing can appear below the horizon any more,
    // and an idle database stays untouched
    if (rows.length > 0) await advanceWatermark(trx, slice.upto)
    return { upto: slice.upto, attempts: rows.length, rollups, alerts }
  })
}

/**
 * Runs the aggregator every ANALYTICS_INTERVAL_MS in this process, beside the API
 * or a relay, never in the relay's delivery path: it reads what the relay wrote,
 * behind a watermark. Any number of processes may run it (the watermark row is
 * locked with skip locked). A database that is gone only makes a run fail and
 * be tried again at the next tick.
 */
export class Aggregator {
  private stopping = false
  private readonly abort = new AbortController()
  private loop: Promise<void> | undefined
  private runs = 0
  lastError: string | null = null

  constructor(
    private readonly db: Database,
    private readonly config: AggregatorConfig,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.loop ??= this.run()
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.abort.abort()
    await this.loop
  }

  /**
   * Folds every attempt whose transaction had begun when this was called (tests
   * and the bench call it). Waits for transactions still open, anywhere in the
   * cluster, that hold the horizon back; gives up after `timeoutMs`.
   */
  async catchUp(timeoutMs = 30_000): Promise<void> {
    const { rows } = await sql<{ target: number }>`select pg_snapshot_xmax(pg_current_snapshot())::text::bigint as target`.execute(this.db)
    const target = rows[0]!.target
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const result = await aggregateOnce(this.db, this.config)
      if (result && result.upto >= target) return
      if (Date.now() > deadline) throw new Error(`analytics did not catch up within ${timeoutMs} ms (at ${result?.upto ?? 'locked'}, target ${target})`)
      await sleep(10)
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const slow = this.runs % SLOW_CHECKS_EVERY === 0
        let result = await aggregateOnce(this.db, this.config, { slowChecks: slow })
        // a backlog of attempts: go on at once, slice after slice
        while (!this.stopping && result && result.attempts >= SLICE_ROWS / 2) result = await aggregateOnce(this.db, this.config)
        if (this.runs % PRUNE_EVERY === 0) {
          await pruneRollups(this.db, this.config.ANALYTICS_HOUR_RETENTION_DAYS, this.config.ANALYTICS_RETENTION_DAYS)
        }
        this.lastError = null
      } catch (error) {
        this.lastError = (error as Error).message
        this.log.error({ err: error }, 'analytics aggregation failed; retrying at the next tick')
      }
      this.runs++
      await sleep(this.config.ANALYTICS_INTERVAL_MS, undefined, { signal: this.abort.signal }).catch(() => {})
    }
  }
}
