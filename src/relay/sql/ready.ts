import { sql } from 'kysely'

/**
 * The ready set (db/0008_plugin_ready.sql): which plugins the claim looks at, and
 * from when. Every write that makes a delivery claimable earlier than its plugin's
 * due_at — a fan-out, a retry outcome, a release, resume and enable, recover, a
 * manual retry, a lease that may expire — inserts the plugin's row or lowers its
 * due_at, in the same transaction, with this clause:
 *
 *   insert into plugin_ready (plugin_id, due_at) select … order by plugin_id <READY_ON_CONFLICT>
 *
 * The same clause lowers pending_floor (db/0022), the bound below which the plugin
 * has no pending delivery, to (due_at, 0): every such write gives its deliveries a
 * next_attempt_at no earlier than the due_at it passes here. A row inserted fresh
 * starts at ('-infinity', 0), the columns' defaults: it knows nothing of older rows.
 *
 * Adding 1 to version is what tells a claim whose snapshot missed this write not to
 * raise due_at or pending_floor (src/relay/sql/claim.ts). The row stays locked until commit, so two
 * writes of the same plugin's readiness take turns; rows are taken in plugin id
 * order (`order by plugin_id` in the select), so two writers never deadlock.
 */
export const READY_ON_CONFLICT = `
  on conflict (plugin_id) do update
     set due_at = least(plugin_ready.due_at, excluded.due_at),
         pending_floor = least(plugin_ready.pending_floor, excluded.due_at),
         pending_floor_id = case when excluded.due_at <= plugin_ready.pending_floor then 0 else plugin_ready.pending_floor_id end,
         version = plugin_ready.version + 1`

/** The same clause for Kysely `sql` templates. */
export const readyOnConflict = sql.raw(READY_ON_CONFLICT)
