import type pg from 'pg'
import type { DeliveryStatus } from '../../db/schema.ts'

export interface RecordedOutcome {
  id: number
  leaseId: string
  attempt: number
  statusCode: number | null
  error: string | null
  durationMs: number
  status: Extract<DeliveryStatus, 'sent' | 'retry' | 'failed'>
  /** for 'retry': how long until the next attempt */
  delayMs: number
}

/**
 * Records a batch of outcomes in one statement: every attempt goes into
 * delivery_attempts, and each delivery moves on only if it still holds the lease
 * it was claimed with. A relay whose lease ran out (and whose delivery another
 * relay has since claimed, or an operator cancelled) cannot overwrite the newer state.
 * Returns the ids whose state was updated.
 */
const text = `
  with outcome as (
    select *
      from unnest($1::bigint[], $2::uuid[], $3::integer[], $4::integer[], $5::text[], $6::integer[], $7::text[], $8::integer[])
        as o (id, lease_id, attempt, status_code, error, duration_ms, status, delay_ms)
  ),
  recorded as (
    update deliveries d
       set status = o.status,
           attempts = o.attempt,
           lease_id = null,
           next_attempt_at = case when o.status = 'retry'
                                  then now() + o.delay_ms * interval '1 millisecond'
                                  else d.next_attempt_at end,
           last_status_code = o.status_code,
           last_error = o.error,
           sent_at = case when o.status = 'sent' then now() else d.sent_at end,
           updated_at = now()
      from outcome o
     where d.id = o.id and d.lease_id = o.lease_id
    returning d.id
  ),
  attempts as (
    insert into delivery_attempts (delivery_id, attempt, status_code, error, duration_ms)
    select id, attempt, status_code, error, duration_ms from outcome
  )
  select id from recorded
`

export async function recordOutcomes(pool: pg.Pool, outcomes: RecordedOutcome[]): Promise<Set<number>> {
  const { rows } = await pool.query<{ id: number }>({
    name: 'relay_record_outcomes',
    text,
    values: [
      outcomes.map((o) => o.id),
      outcomes.map((o) => o.leaseId),
      outcomes.map((o) => o.attempt),
      outcomes.map((o) => o.statusCode),
      outcomes.map((o) => o.error),
      outcomes.map((o) => o.durationMs),
      outcomes.map((o) => o.status),
      outcomes.map((o) => o.delayMs),
    ],
  })
  return new Set(rows.map((r) => r.id))
}
