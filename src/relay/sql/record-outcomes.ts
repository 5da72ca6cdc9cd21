import type pg from 'pg'
import type { DeliveryStatus } from '../../db/schema.ts'
import { CHANGES_CHANNEL, CHANGES_PER_NOTIFY } from '../../live/changes.ts'
import { READY_ON_CONFLICT } from './ready.ts'

export interface RecordedOutcome {
  id: number
  pluginId: string
  leaseId: string
  attempt: number
  statusCode: number | null
  error: string | null
  durationMs: number
  status: Extract<DeliveryStatus, 'sent' | 'retry' | 'failed'>
  /** for 'retry': how long until the next attempt */
  delayMs: number
  /** set to disable the plugin at once (410 Gone) */
  disableReason?: string | null
}

/** When a failing plugin is disabled automatically. */
export interface DisablePolicy {
  afterFailures: number
  afterDays: number
}

/**
 * Records a batch of outcomes in one statement: each delivery moves on, and its
 * attempt goes into delivery_attempts, only if it still holds the lease it was
 * claimed with. A relay whose lease ran out (and whose delivery another
 * relay has since claimed, or an operator cancelled) cannot overwrite the newer state.
 *
 * The same statement keeps each plugin's failure record: a delivery that ends
 * 'failed' adds to its run of failures, a sent one ends the run. A plugin is
 * disabled when an endpoint answers 410 Gone, when its last `afterFailures`
 * deliveries all failed, or when every delivery has failed for `afterDays`; a
 * disabled plugin keeps its deliveries and resumes with POST /api/plugins/:slug/enable.
 * Returns the ids whose state was updated.
 */
const text = `
  with outcome as (
    select *
      from unnest($1::bigint[], $2::uuid[], $3::integer[], $4::integer[], $5::text[], $6::integer[], $7::text[],
                  $8::integer[], $9::uuid[], $10::text[])
        as o (id, lease_id, attempt, status_code, error, duration_ms, status, delay_ms, plugin_id, disable_reason)
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
    returning d.id, d.status, d.plugin_id, d.next_attempt_at
  ),
  -- a retry may be due before its plugin's due_at (the end of its lease): lower it
  -- (the ready set, src/relay/sql/ready.ts; issue 13). Sent and failed change nothing
  -- there: a plugin that still has due rows is still in the set, due.
  ready as (
    insert into plugin_ready (plugin_id, due_at)
    select plugin_id, min(next_attempt_at) from recorded where status = 'retry' group by plugin_id order by plugin_id
    ${READY_ON_CONFLICT}
  ),
  -- fenced like the update: only an outcome that still held its lease is logged. An
  -- attempt whose lease was lost (or a batch written again after an ambiguous commit)
  -- adds no second log line, and a delivery retention deleted meanwhile gets none
  -- (its foreign key would refuse the whole batch).
  attempts as (
    insert into delivery_attempts (delivery_id, attempt, status_code, error, duration_ms, outcome)
    select o.id, o.attempt, o.status_code, o.error, o.duration_ms, o.status from outcome o join recorded r on r.id = o.id
  ),
  health as (
    select o.plugin_id,
           count(*) filter (where o.status = 'failed')::integer as failed,
           bool_or(o.status = 'sent') as any_sent,
           max(o.disable_reason) as gone
      from outcome o join recorded r on r.id = o.id
     group by o.plugin_id
  ),
  verdict as (
    select h.plugin_id, h.failed, h.any_sent,
           case
             when h.gone is not null then h.gone
             when h.any_sent or h.failed = 0 then null
             when p.consecutive_failures + h.failed >= $11::integer
               then 'its last ' || (p.consecutive_failures + h.failed) || ' deliveries all failed'
             when p.failing_since < now() - $12::integer * interval '1 day'
               then 'every delivery has failed since ' || to_char(p.failing_since at time zone 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')
           end as reason
      from health h join plugins p on p.id = h.plugin_id
     -- most batches change nothing here: leave the plugin row alone then
     where h.failed > 0 or h.gone is not null or (h.any_sent and (p.consecutive_failures > 0 or p.failing_since is not null))
  ),
  judged as (
    update plugins p
       set consecutive_failures = case when v.any_sent then 0 else p.consecutive_failures + v.failed end,
           failing_since = case when v.any_sent then null
                                when v.failed > 0 then coalesce(p.failing_since, now())
                                else p.failing_since end,
           status = case when p.status = 'active' and v.reason is not null then 'disabled' else p.status end,
           disabled_reason = case when p.status = 'active' and v.reason is not null then v.reason else p.disabled_reason end,
           disabled_at = case when p.status = 'active' and v.reason is not null then now() else p.disabled_at end
      from verdict v
     where p.id = v.plugin_id
  ),
  -- for the live stream (src/live/changes.ts): "41s,42r", sent on commit, chunked under the payload cap
  notified as (
    select count(pg_notify('${CHANGES_CHANNEL}', chunk.changes)) as notifications
      from (select string_agg(r.id || case when r.plugin_id in (select plugin_id from verdict where reason is not null)
                                           then 'd' else left(r.status, 1) end, ',') as changes
              from (select id, status, plugin_id, (row_number() over ()) / ${CHANGES_PER_NOTIFY} as n from recorded) r
             group by r.n) chunk
  )
  -- the cross join with notified's one row is what makes Postgres evaluate it
  select id from recorded cross join notified
`

export async function recordOutcomes(pool: pg.Pool, outcomes: RecordedOutcome[], policy: DisablePolicy): Promise<Set<number>> {
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
      outcomes.map((o) => o.pluginId),
      outcomes.map((o) => o.disableReason ?? null),
      policy.afterFailures,
      policy.afterDays,
    ],
  })
  return new Set(rows.map((r) => r.id))
}
