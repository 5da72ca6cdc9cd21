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
 * Adding 1 to version is what tells a claim whose snapshot missed this write not to
 * raise due_at (src/relay/sql/claim.ts). The row stays locked until commit, so two
 * writes of the same plugin's readiness take turns; rows are taken in plugin id
 * order (`order by plugin_id` in the select), so two writers never deadlock.
 */
export const READY_ON_CONFLICT = `
  on conflict (plugin_id) do update
     set due_at = least(plugin_ready.due_at, excluded.due_at),
         version = plugin_ready.version + 1`

/** The same clause for Kysely `sql` templates. */
export const readyOnConflict = sql.raw(READY_ON_CONFLICT)
