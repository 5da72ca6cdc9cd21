import { sql } from 'kysely'

/**
 * The ready set (db/0008_plugin_ready.sql): which plugins the claim looks at, and
 * from when. Every write that makes a delivery claimable earlier than its plugin's
 * due_at — a fan-out, a retry outcome, a release, resume and enable, recover, a
 * manual retry, a lease that may expire — inserts the plugin's row or lowers its
 * due_at, in the same transaction (or, a fan-out, finds them low enough already
 * and holds the row: markReadySql below), with this clause:
 *
 *   insert into plugin_ready (plugin_id, due_at) select … order by plugin_id <READY_ON_CONFLICT>
 *
 * The same clause lowers pending_floor (db/0022), the bound below which the plugin
 * has no pending delivery, to (due_at, 0): every such write gives its deliveries a
 * next_attempt_at no earlier than the due_at it passes here. A row inserted fresh
 * starts at ('-infinity', 0), the columns' defaults: it knows nothing of older rows.
 *
 * The upsert holds the row (`for no key update`) until commit, so two upserts of
 * one plugin's readiness take turns; rows are taken in plugin id order (`order by
 * plugin_id` in the select), so two writers never deadlock. The fan-out, the hot
 * path, mostly needs no upsert at all (markReadySql below).
 *
 * Only a claim raises due_at or the floor, or removes a row, and only on rows it
 * holds `for update`, taken before it reads the plugin's deliveries
 * (src/relay/sql/claim.ts): a write it cannot see yet still holds the row, and it
 * is skipped; one that committed before is seen.
 */
export const READY_ON_CONFLICT = `
  on conflict (plugin_id) do update
     set due_at = least(plugin_ready.due_at, excluded.due_at),
         pending_floor = least(plugin_ready.pending_floor, excluded.due_at),
         pending_floor_id = case when excluded.due_at <= plugin_ready.pending_floor then 0 else plugin_ready.pending_floor_id end`

/** The same clause for Kysely `sql` templates. */
export const readyOnConflict = sql.raw(READY_ON_CONFLICT)

/**
 * What a write that gave `ids` plugins due deliveries (at its now()) runs last, in
 * one statement, in plugin id order. A plugin whose row already admits them (due,
 * its floor at or below (now(), 0)) has its row held `for key share`: a lock that
 * writers share, so writes to one busy plugin commit side by side instead of taking
 * turns on the row until each commit (the `writers` scenario of `npm run bench`).
 * A claim cannot take the row `for update` while the lock is held, so it cannot
 * raise the row over this write's deliveries before they are visible. The others
 * (no row, or a row a claim raised or moved) get the upsert above.
 *
 * A write that meets a claim holding the row waits for it (claims hold their rows
 * for one statement and a commit) and then decides on the row as that claim left it:
 * the locking read re-checks its condition on the newest version.
 */
export const markReadySql = (ids: string[]) => sql`
  with shared as (
    select r.plugin_id
      from plugin_ready r
     where r.plugin_id = any (${ids}::uuid[])
       and r.due_at <= now()
       and (r.pending_floor, r.pending_floor_id) <= (now(), 0)
     order by r.plugin_id
       for key share
  )
  insert into plugin_ready (plugin_id, due_at)
  select id, now()
    from unnest(${ids}::uuid[]) as id
   where id not in (select s.plugin_id from shared s)
   order by id
  ${readyOnConflict}
`
