import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type {
  PluginBacklogData,
  PluginDisabledData,
  PluginFailingData,
  PluginRecoveredData,
  PluginSloBurnData,
} from '../events/schemas/alerts.ts'
import { sloStates, type Slo } from '../analytics/slo.ts'
import { failureCause, type FailureCause } from '../analytics/failure-cause.ts'
import type { AttemptRow } from '../analytics/sql/read-attempts.ts'
import { emit, outboxTransaction } from '../outbox/emit.ts'
import { emptyState, lastFailure, readStates, writeStates, type AlertState } from './alert-state.ts'

/**
 * Operational alerts, raised by the aggregator inside its transaction (so exactly
 * one process decides each transition, and the alert's outbox rows commit with
 * the state that says it was sent). Each alert fires on a transition only: a
 * plugin that keeps failing sends one plugin.failing, and plugin.recovered re-arms it.
 * Alerts go out as ordinary events through src/outbox/emit.ts, to every plugin of
 * the tenant subscribed to them (the alert endpoints), signed and retried like any
 * webhook. No alert is raised about an alert endpoint itself (kind 'alert'): it
 * would be delivered to the endpoint that fails.
 */

type LastFailureData = PluginFailingData['last_failure']

/** An alert into the outbox, inside the aggregator's transaction, after the ordered alert endpoints' turns. */
const emitAlert = (trx: Database, tenantId: string, type: string, data: unknown) =>
  outboxTransaction(trx, tenantId, [type], (t) => emit(t, tenantId, type, data))

function failureOf(state: AlertState): LastFailureData | null {
  const f = lastFailure(state)
  return f && { ...f, cause: f.cause as FailureCause }
}

/** Folds a slice's attempts (in the order they were recorded) into each plugin's run of failures. */
export async function alertOnAttempts(trx: Database, rows: readonly AttemptRow[], failingAfter: number): Promise<number> {
  const byPlugin = new Map<string, AttemptRow[]>()
  for (const row of rows) {
    if (row.plugin_kind !== 'plugin' || row.event_type === 'plugin.test') continue
    let list = byPlugin.get(row.plugin_id)
    if (!list) byPlugin.set(row.plugin_id, (list = []))
    list.push(row)
  }
  if (byPlugin.size === 0) return 0
  const states = await readStates(trx, [...byPlugin.keys()])
  const changed: AlertState[] = []
  let raised = 0
  for (const [pluginId, attempts] of byPlugin) {
    const first = attempts[0]!
    const state = states.get(pluginId) ?? emptyState(pluginId, first.tenant_id)
    const about = { plugin: first.plugin_slug, name: first.plugin_name }
    for (const a of attempts) {
      if (a.error === null) {
        if (state.failing) {
          const data: PluginRecoveredData = {
            ...about,
            at: a.at.toISOString(),
            recovered_from: 'failing',
            since: (state.failing_since ?? a.at).toISOString(),
            last_failure: failureOf(state),
          }
          await emitAlert(trx, state.tenant_id, 'plugin.recovered', data)
          raised++
        }
        state.streak = 0
        state.failing = false
        state.failing_since = null
        continue
      }
      state.streak++
      state.failing_since ??= a.at
      state.last_cause = failureCause(a.status_code, a.error)
      state.last_error = a.error.slice(0, 1000)
      state.last_status_code = a.status_code
      state.last_failure_at = a.at
      if (!state.failing && state.streak >= failingAfter) {
        state.failing = true
        const data: PluginFailingData = {
          ...about,
          at: a.at.toISOString(),
          consecutive_failures: state.streak,
          failing_since: state.failing_since.toISOString(),
          last_failure: failureOf(state)!,
        }
        await emitAlert(trx, state.tenant_id, 'plugin.failing', data)
        raised++
      }
    }
    changed.push(state)
  }
  await writeStates(trx, changed)
  await watchSlos(trx, [...byPlugin].filter(([, attempts]) => attempts[0]!.plugin_has_slo).map(([id]) => id))
  return raised
}

/**
 * Plugins with an SLO that just had attempts: their burn rates may change for the
 * next 6 hours (the longest window), so alertOnSloBurn watches them until then.
 * Moved only when it gains more than a few minutes: not a write per slice.
 */
async function watchSlos(trx: Database, pluginIds: readonly string[]): Promise<void> {
  if (pluginIds.length === 0) return
  await sql`
    update plugin_alerts set slo_watch_until = now() + ${SLO_WATCH}::interval
     where plugin_id = any (${pluginIds}::uuid[])
       and (slo_watch_until is null or slo_watch_until < now() + ${SLO_WATCH}::interval - interval '5 minutes')
  `.execute(trx)
}

/**
 * plugin.disabled for plugins the relay disabled in the last day and not yet
 * announced (plugins_disabled index: the recently disabled alone).
 */
export async function alertOnDisabled(trx: Database): Promise<number> {
  const { rows } = await sql<{ id: string; tenant_id: string; slug: string; name: string; disabled_reason: string | null; disabled_at: Date }>`
    select p.id, p.tenant_id, p.slug, p.name, p.disabled_reason, p.disabled_at
      from plugins p
      left join plugin_alerts s on s.plugin_id = p.id
     where p.status = 'disabled' and p.kind = 'plugin'
       and p.disabled_at > now() - interval '1 day'
       -- disabled_notified went through a JS Date: milliseconds, where disabled_at has microseconds
       and (s.disabled_notified is null or s.disabled_notified < p.disabled_at - interval '1 millisecond')
  `.execute(trx)
  if (rows.length === 0) return 0
  const states = await readStates(trx, rows.map((r) => r.id))
  const changed: AlertState[] = []
  for (const p of rows) {
    const state = states.get(p.id) ?? emptyState(p.id, p.tenant_id)
    const data: PluginDisabledData = {
      plugin: p.slug,
      name: p.name,
      at: new Date().toISOString(),
      reason: p.disabled_reason ?? 'disabled',
      disabled_at: p.disabled_at.toISOString(),
      last_failure: failureOf(state),
    }
    await emitAlert(trx, p.tenant_id, 'plugin.disabled', data)
    state.disabled_notified = p.disabled_at
    changed.push(state)
  }
  await writeStates(trx, changed)
  return rows.length
}

/** Due deliveries counted at most this far: the alert says "at least". */
const BACKLOG_COUNT_CAP = 10_000

/** Plugins probed per backlog check, oldest due first: the check's cost has a bound whatever happens. */
const BACKLOG_BATCH = 1000

/**
 * plugin.backlog when a plugin's oldest due delivery is older than `afterMs`;
 * plugin.recovered (from backlog) once it is under half of that again, so a
 * backlog hovering at the threshold does not flap. Probes only the plugins that
 * can be in either state: those whose ready-set entry (db/0008 plugin_ready,
 * due_at a lower bound of their next claimable delivery) is older than the
 * threshold, and those in backlog now (plugin_alerts_backlog), each through its
 * partial indexes of claimable rows. A platform of idle or keeping-up plugins
 * costs nothing here.
 */
export async function alertOnBacklog(trx: Database, afterMs: number): Promise<number> {
  const { rows } = await sql<{ id: string; tenant_id: string; slug: string; name: string; oldest: Date | null; backlog: boolean | null }>`
    select p.id, p.tenant_id, p.slug, p.name, least(o.pending, o.retry) as oldest, s.backlog
      from ((select r.plugin_id from plugin_ready r
              where r.due_at <= now() - ${afterMs}::integer * interval '1 millisecond'
              order by r.due_at limit ${BACKLOG_BATCH}::integer)
            union
            select a.plugin_id from plugin_alerts a where a.backlog) c
      join plugins p on p.id = c.plugin_id
      left join plugin_alerts s on s.plugin_id = p.id
     cross join lateral (
       select (select min(d.next_attempt_at) from deliveries d
                where d.plugin_id = p.id and d.status = 'pending' and d.next_attempt_at <= now()) as pending,
              (select min(d.next_attempt_at) from deliveries d
                where d.plugin_id = p.id and d.status = 'retry' and d.next_attempt_at <= now()) as retry
     ) o
     where (p.status = 'active' and p.kind = 'plugin') or s.backlog
  `.execute(trx)
  const now = Date.now()
  const firing = rows.filter((r) => !r.backlog && r.oldest !== null && now - r.oldest.getTime() > afterMs)
  const clearing = rows.filter((r) => r.backlog && (r.oldest === null || now - r.oldest.getTime() < afterMs / 2))
  if (firing.length + clearing.length === 0) return 0
  const states = await readStates(trx, [...firing, ...clearing].map((r) => r.id))
  const changed: AlertState[] = []
  for (const p of firing) {
    const { rows: counted } = await sql<{ due: number }>`
      select count(*)::integer as due from (
        select 1 from deliveries d
         where d.plugin_id = ${p.id}::uuid and d.status in ('pending', 'retry') and d.next_attempt_at <= now()
         limit ${BACKLOG_COUNT_CAP}::integer) due
    `.execute(trx)
    const state = states.get(p.id) ?? emptyState(p.id, p.tenant_id)
    const data: PluginBacklogData = {
      plugin: p.slug,
      name: p.name,
      at: new Date(now).toISOString(),
      due: counted[0]?.due ?? 0,
      oldest_due_age_ms: now - p.oldest!.getTime(),
      threshold_ms: afterMs,
    }
    await emitAlert(trx, p.tenant_id, 'plugin.backlog', data)
    state.backlog = true
    state.backlog_since = new Date(now)
    changed.push(state)
  }
  for (const p of clearing) {
    const state = states.get(p.id) ?? emptyState(p.id, p.tenant_id)
    const data: PluginRecoveredData = {
      plugin: p.slug,
      name: p.name,
      at: new Date(now).toISOString(),
      recovered_from: 'backlog',
      since: (state.backlog_since ?? new Date(now)).toISOString(),
      last_failure: failureOf(state),
    }
    await emitAlert(trx, p.tenant_id, 'plugin.recovered', data)
    state.backlog = false
    state.backlog_since = null
    changed.push(state)
  }
  await writeStates(trx, changed)
  return firing.length + clearing.length
}

/** The longest burn-rate window (src/analytics/slo.ts WINDOWS): attempts older than it change no burn rate. */
const SLO_WATCH = '6 hours'
/**
 * Watched plugins checked per run: the check's cost stays this, whatever the
 * platform's size. At the default ANALYTICS_INTERVAL_MS (5 s), 1,200 watched plugins a
 * minute; with more, each is seen least recently checked first, in turn.
 */
export const SLO_BATCH = 100

/**
 * plugin.slo_burn when a plugin with an SLO burns its error budget by one of the
 * multi-window rules (src/analytics/slo.ts), plugin.recovered (from slo_burn) once
 * neither rule holds. Reads only the watched plugins (attempts in the last 6
 * hours, or burning: plugin_alerts_slo_watch), SLO_BATCH of them, least recently
 * checked first; a plugin that is quiet and not burning leaves the watch.
 */
export async function alertOnSloBurn(trx: Database, batch = SLO_BATCH): Promise<number> {
  const { rows: plugins } = await sql<{ id: string; tenant_id: string; slug: string; name: string; slo: Slo | null; status: string; kind: string }>`
    select p.id, p.tenant_id, p.slug, p.name, p.slo, p.status, p.kind
      from plugin_alerts a join plugins p on p.id = a.plugin_id
     where a.slo_watch_until is not null
     order by a.slo_checked_at nulls first, a.plugin_id
     limit ${batch}::integer
  `.execute(trx)
  if (plugins.length === 0) return 0
  const now = new Date()
  const checked = plugins.filter((p) => p.status === 'active' && p.kind === 'plugin' && p.slo !== null)
  const [states, slos] = await Promise.all([
    readStates(trx, checked.map((p) => p.id)),
    sloStates(trx, checked.map((p) => ({ id: p.id, slo: p.slo! })), now),
  ])
  const changed: AlertState[] = []
  for (const p of checked) {
    const slo = slos.get(p.id)!
    const state = states.get(p.id) ?? emptyState(p.id, p.tenant_id)
    if (slo.state !== 'ok' && !state.slo_burn) {
      const data: PluginSloBurnData = {
        plugin: p.slug,
        name: p.name,
        at: now.toISOString(),
        objective: slo.objective,
        severity: slo.state,
        burn_rates: slo.burn_rates,
        budget_remaining: slo.budget_remaining,
        last_failure: failureOf(state),
      }
      await emitAlert(trx, p.tenant_id, 'plugin.slo_burn', data)
      state.slo_burn = true
      state.slo_burn_since = now
      changed.push(state)
    } else if (slo.state === 'ok' && state.slo_burn) {
      const data: PluginRecoveredData = {
        plugin: p.slug,
        name: p.name,
        at: now.toISOString(),
        recovered_from: 'slo_burn',
        since: (state.slo_burn_since ?? now).toISOString(),
        last_failure: failureOf(state),
      }
      await emitAlert(trx, p.tenant_id, 'plugin.recovered', data)
      state.slo_burn = false
      state.slo_burn_since = null
      changed.push(state)
    }
  }
  await writeStates(trx, changed)
  // checked now; quiet and not burning (or no longer an active plugin with an SLO): off the watch
  await sql`
    update plugin_alerts
       set slo_checked_at = now(),
           slo_watch_until = case when slo_watch_until <= now() and not slo_burn then null
                                  when plugin_id = any (${plugins.filter((p) => !checked.includes(p)).map((p) => p.id)}::uuid[]) then null
                                  else slo_watch_until end
     where plugin_id = any (${plugins.map((p) => p.id)}::uuid[])
  `.execute(trx)
  return changed.length
}
