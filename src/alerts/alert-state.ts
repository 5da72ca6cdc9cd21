import { sql } from 'kysely'
import type { Database } from '../db/database.ts'

/** A plugin's row of plugin_alerts (db/0013_analytics.sql). */
export interface AlertState {
  plugin_id: string
  tenant_id: string
  streak: number
  failing: boolean
  failing_since: Date | null
  last_cause: string | null
  last_error: string | null
  last_status_code: number | null
  last_failure_at: Date | null
  backlog: boolean
  backlog_since: Date | null
  slo_burn: boolean
  slo_burn_since: Date | null
  disabled_notified: Date | null
}

export const emptyState = (pluginId: string, tenantId: string): AlertState => ({
  plugin_id: pluginId,
  tenant_id: tenantId,
  streak: 0,
  failing: false,
  failing_since: null,
  last_cause: null,
  last_error: null,
  last_status_code: null,
  last_failure_at: null,
  backlog: false,
  backlog_since: null,
  slo_burn: false,
  slo_burn_since: null,
  disabled_notified: null,
})

export async function readStates(trx: Database, pluginIds: readonly string[]): Promise<Map<string, AlertState>> {
  if (pluginIds.length === 0) return new Map()
  const { rows } = await sql<AlertState>`
    select plugin_id, tenant_id, streak, failing, failing_since, last_cause, last_error, last_status_code, last_failure_at,
           backlog, backlog_since, slo_burn, slo_burn_since, disabled_notified
      from plugin_alerts where plugin_id = any (${pluginIds}::uuid[])
  `.execute(trx)
  return new Map(rows.map((r) => [r.plugin_id, r]))
}

export async function writeStates(trx: Database, states: readonly AlertState[]): Promise<void> {
  if (states.length === 0) return
  const col = <K extends keyof AlertState>(k: K) => states.map((s) => s[k])
  await sql`
    insert into plugin_alerts as a (plugin_id, tenant_id, streak, failing, failing_since, last_cause, last_error, last_status_code,
                                    last_failure_at, backlog, backlog_since, slo_burn, slo_burn_since, disabled_notified)
    select * from unnest(${col('plugin_id')}::uuid[], ${col('tenant_id')}::uuid[], ${col('streak')}::integer[],
                         ${col('failing')}::boolean[], ${col('failing_since')}::timestamptz[], ${col('last_cause')}::text[],
                         ${col('last_error')}::text[], ${col('last_status_code')}::integer[], ${col('last_failure_at')}::timestamptz[],
                         ${col('backlog')}::boolean[], ${col('backlog_since')}::timestamptz[], ${col('slo_burn')}::boolean[],
                         ${col('slo_burn_since')}::timestamptz[], ${col('disabled_notified')}::timestamptz[])
    on conflict (plugin_id) do update
       set streak = excluded.streak, failing = excluded.failing, failing_since = excluded.failing_since,
           last_cause = excluded.last_cause, last_error = excluded.last_error, last_status_code = excluded.last_status_code,
           last_failure_at = excluded.last_failure_at, backlog = excluded.backlog, backlog_since = excluded.backlog_since,
           slo_burn = excluded.slo_burn, slo_burn_since = excluded.slo_burn_since,
           disabled_notified = excluded.disabled_notified, updated_at = now()
  `.execute(trx)
}

export function lastFailure(state: AlertState) {
  if (!state.last_failure_at || state.last_cause === null) return null
  return {
    cause: state.last_cause,
    error: state.last_error ?? '',
    status_code: state.last_status_code,
    at: state.last_failure_at.toISOString(),
  }
}
