import { causeIndex, failureCause, FAILURE_CAUSES } from './failure-cause.ts'
import { record } from './histogram.ts'
import type { Tally } from './analytics.queries.ts'
import type { AttemptRow } from './sql/read-attempts.ts'

export type Grain = 'minute' | 'hour' | 'day'
export const GRAINS: readonly Grain[] = ['minute', 'hour', 'day']

export type Outcome = 'sent' | 'retried' | 'failed'

/** One rollup row: the counts and histograms of a tenant's plugin, event type and time bucket. */
export interface Rollup extends Tally {
  tenant_id: string
  plugin_id: string
  event_type: string
  bucket: Date
}

export function truncate(at: Date, grain: Grain): Date {
  const d = new Date(at)
  d.setUTCSeconds(0, 0)
  if (grain !== 'minute') d.setUTCMinutes(0)
  if (grain === 'day') d.setUTCHours(0)
  return d
}

/**
 * An attempt's outcome: sent; failed for good (its delivery ended 'failed' with
 * this attempt); or retried (another attempt followed or will follow). Recorded
 * with the attempt; derived from the delivery's status now only for attempts
 * written before db/0020 (a redelivery since then makes that guess wrong).
 */
export function outcomeOf(row: Pick<AttemptRow, 'error' | 'outcome' | 'attempt' | 'delivery_status' | 'delivery_attempts'>): Outcome {
  if (row.outcome !== null) return row.outcome === 'retry' ? 'retried' : row.outcome
  if (row.error === null) return 'sent'
  return row.delivery_status === 'failed' && row.attempt >= row.delivery_attempts ? 'failed' : 'retried'
}

/** Folds attempts into one rollup per plugin, event type and bucket of `grain`. */
export function rollUp(rows: readonly AttemptRow[], grain: Grain): Rollup[] {
  const rollups = new Map<string, Rollup>()
  for (const row of rows) {
    const bucket = truncate(row.at, grain)
    const key = `${row.plugin_id} ${row.event_type} ${bucket.getTime()}`
    let r = rollups.get(key)
    if (!r) {
      r = {
        tenant_id: row.tenant_id,
        plugin_id: row.plugin_id,
        event_type: row.event_type,
        bucket,
        attempts: 0,
        sent: 0,
        retried: 0,
        failed: 0,
        latency: [],
        e2e: [],
        causes: FAILURE_CAUSES.map(() => 0),
      }
      rollups.set(key, r)
    }
    r.attempts++
    const outcome = outcomeOf(row)
    r[outcome]++
    record(r.latency, row.duration_ms)
    if (outcome === 'sent') {
      if (row.committed_at) record(r.e2e, Math.max(0, row.at.getTime() - row.committed_at.getTime()))
    } else {
      r.causes[causeIndex(failureCause(row.status_code, row.error!))]! += 1
    }
  }
  return [...rollups.values()]
}
