import type pg from 'pg'
import type { RetryPolicy } from '../../db/schema.ts'

export interface Claimed {
  id: number
  /** attempts recorded before this claim; this attempt is attempts + 1 */
  attempts: number
  plugin_id: string
  slug: string
  webhook_url: string
  /** the plugin's own retry schedule, or null for the service default */
  retry_policy: RetryPolicy | null
  type: string
  body: string
  /**
   * the plugin's signing secrets, encrypted, newest first, space-separated ('' if it
   * has none yet); src/secrets/signing-keys.ts decrypts and caches them
   */
  secrets: string
}

/** Plugins one claim looks at, at most, beyond its own size: room to pass over plugins at their cap. */
export const CLAIM_VISITS_MIN = 32

/**
 * A claim is two statements in one transaction (claimDeliveries): visitSql picks the
 * plugins to look at and locks the ready rows it may settle, then claimSql, with a
 * snapshot taken after those locks, claims their deliveries and settles those rows.
 *
 * visitSql: only plugins in the ready set (plugin_ready, db/0008) whose due_at has
 * come are looked at, least recently looked at first, at most max(limit,
 * CLAIM_VISITS_MIN) of them: the cost follows the work there is, never the number of
 * plugins, tenants or delivered rows. An idle poll reads one empty index range and
 * ends there. Each visited row is taken `for update skip locked`: `held` where no
 * one else holds it. A row a write holds (a fan-out shares it `for key share` until
 * it commits, an upsert holds it alone: src/relay/sql/ready.ts) is visited all the
 * same, and its deliveries claimed, but not settled by this claim. `crowded`: more
 * plugins are due than one claim visits.
 */
export const visitSql = `
  with due as (
    select r.plugin_id, row_number() over (order by r.due_at, r.plugin_id) as n
      from (select r.plugin_id, r.due_at
              from plugin_ready r
             -- each plugin by primary key (lateral: never a join that could scan plugins)
             cross join lateral (select p.tenant_id from plugins p where p.id = r.plugin_id limit 1) p
             where r.due_at <= now()
               -- a relay claims for every tenant; "process pending webhooks" only for its caller's
               and ($2::uuid is null or p.tenant_id = $2::uuid)
             order by r.due_at, r.plugin_id
             limit greatest($1::integer, ${CLAIM_VISITS_MIN}) + 1) r
  )
  select d.plugin_id, h.plugin_id is not null as held,
         (select max(n) from due) > greatest($1::integer, ${CLAIM_VISITS_MIN}) as crowded
    from due d
    left join lateral (select x.plugin_id from plugin_ready x where x.plugin_id = d.plugin_id for update skip locked) h on true
   where d.n <= greatest($1::integer, ${CLAIM_VISITS_MIN})
`

/** What visitSql found: the plugins to visit, those whose ready rows this claim holds, and whether more are due. */
export interface Visit {
  visit: string[]
  held: string[]
  crowded: boolean
}

/**
 * claimSql: claims up to `limit` due deliveries of the visited plugins for one
 * relay: locks them with SKIP LOCKED (relays never wait on each other), stamps them
 * with the claim's lease id (the fence every outcome must present) and pushes their
 * due time to the end of the lease, so that a relay that dies holding them only
 * delays them.
 *
 * Fair by construction: among those plugins, due deliveries are taken plugin by
 * plugin, each at most up to its free share of `maxInFlight` (counted over all
 * relays' live leases), oldest first overall. A plugin whose endpoint hangs, or
 * that has a mountain of due retries, fills its share and no more; the others'
 * deliveries go out beside it. An `ordered` plugin gets one at a time, and only its
 * oldest undelivered delivery (its head): a head waiting for a retry blocks that
 * plugin only. Paused, disabled and deleted plugins get nothing.
 *
 * The same statement keeps the ready set true (the `outlook`), on the rows it
 * holds: a plugin that still has due rows (even ones it cannot take now, at its
 * cap: it gets them once a slot frees) stays due, and when more plugins are due than
 * one claim visits it moves to the back of the queue so the others get their turn;
 * one with nothing due is moved to its next due time (a retry, the end of a lease,
 * an ordered head's retry), and one with nothing undelivered, or not active, leaves
 * the set; its floor rises to its smallest pending key. That only ever raises the
 * row from what this snapshot shows, so it is done only on rows visitSql locked
 * before this snapshot was taken: every write that held the row before has
 * committed and is seen here, and every write after waits for this commit, then
 * finds the row raised and lowers it again (least(due_at, …)). A row a write still
 * held was not locked, and is left as it is. Either way no due delivery is left
 * behind a due_at in the future or a floor above it, and no claim ever waits for a
 * writer. test/ready-set.test.ts plays these orders step by step, and races them.
 *
 * Each look-up reads one plugin's range of one partial index of claimable rows
 * (deliveries_plugin_pending, deliveries_plugin_retry, deliveries_in_flight,
 * deliveries_plugin_head), in that index's order, under a limit: written as a range
 * of (plugin_id, key) and ordered by it, so that it is the only index that gives
 * those rows in that order, and planned with sorts priced out
 * (CLAIM_PLANNER_SETTINGS), so the plan does not depend on statistics (a
 * never-analyzed table gets the same plan: test/ready-set.test.ts checks the rows
 * it reads).
 */
export const claimSql = `
  with visit as (
    select r.plugin_id, r.pending_floor, r.pending_floor_id, p.status = 'active' as active, p.ordered, p.slug, p.webhook_url, p.retry_policy
      from plugin_ready r
     -- each plugin by primary key (lateral: never a join that could scan plugins)
     cross join lateral (select p.status, p.ordered, p.slug, p.webhook_url, p.retry_policy
                           from plugins p where p.id = r.plugin_id limit 1) p
     where r.plugin_id = any ($5::uuid[])
     -- in primary key order: with sorts priced out, the only plan is its index
     order by r.plugin_id
  ),
  -- materialized: each plugin's in-flight count is read once, not once per look-up below
  quota as materialized (
    -- in flight: rows under a live lease. lease_id is set only by a claim and cleared by
    -- every outcome, release and cancel, so deliveries_in_flight (db/0019) holds leased
    -- rows alone, and the range (plugin, now) .. (plugin, infinity) the live leases.
    -- An ordered index scan under a limit, which marks the entries of rows no longer
    -- leased dead as it passes them, where a bitmap scan would read them again every time
    select v.plugin_id, v.ordered, v.pending_floor, v.pending_floor_id,
           (case when v.ordered then 1 else $4::integer end)
             - (select count(*)::integer
                  from (select 1
                          from deliveries l
                         where l.lease_id is not null
                           and (l.plugin_id, l.next_attempt_at) > (v.plugin_id, now())
                           and (l.plugin_id, l.next_attempt_at) < (v.plugin_id, 'infinity'::timestamptz)
                         order by l.plugin_id, l.next_attempt_at
                         limit case when v.ordered then 1 else $4::integer end) l) as free
      from visit v
     where v.active
  ),
  -- Per plugin: its due fresh deliveries and its due retries, interleaved (fresh,
  -- retry, fresh, …), so fresh ones are never queued behind a mountain of retries
  -- and retries are never starved by a stream of fresh ones. Each look-up reads and
  -- locks at most $1 rows (what this claim can take), not the plugin's whole free
  -- share, which can be thousands with a large PLUGIN_MAX_IN_FLIGHT. Rows are locked where
  -- they are read (skip locked), so relays claiming at the same moment take
  -- different rows instead of colliding on the same oldest ones.
  candidates as (
    select c.id, c.next_attempt_at
      from quota q
     cross join lateral (
       select k.id, k.next_attempt_at
         from ((select f.id, f.next_attempt_at, 0 as kind, row_number() over (order by f.next_attempt_at, f.id) as turn
                  from (select d.id, d.next_attempt_at
                          from deliveries d
                         where not q.ordered and d.status = 'pending'
                           -- from the floor: not over the dead entries of what was claimed before
                           and (d.plugin_id, d.next_attempt_at, d.id) >= (q.plugin_id, q.pending_floor, q.pending_floor_id)
                           and (d.plugin_id, d.next_attempt_at) <= (q.plugin_id, now())
                         order by d.plugin_id, d.next_attempt_at, d.id
                         limit least(greatest(q.free, 0), $1)
                           for update skip locked) f)
               union all
               (select r.id, r.next_attempt_at, 1 as kind, row_number() over (order by r.next_attempt_at, r.id) as turn
                  from (select d.id, d.next_attempt_at
                          from deliveries d
                         where not q.ordered and d.status = 'retry'
                           and (d.plugin_id, d.next_attempt_at) >= (q.plugin_id, '-infinity'::timestamptz)
                           and (d.plugin_id, d.next_attempt_at) <= (q.plugin_id, now())
                         order by d.plugin_id, d.next_attempt_at, d.id
                         limit least(greatest(q.free, 0), $1)
                           for update skip locked) r)
               union all
               -- an ordered plugin's head (its oldest undelivered delivery), if due;
               -- while the head is in flight or locked, nothing
               (select o.id, o.next_attempt_at, 0 as kind, 1 as turn
                  from (select d.id, d.next_attempt_at
                          from deliveries d
                         where q.ordered and q.free > 0
                           and d.id = (select h.id from deliveries h
                                        where h.status in ('pending', 'retry')
                                          and (h.plugin_id, h.id) >= (q.plugin_id, 0) and (h.plugin_id, h.id) <= (q.plugin_id, 9223372036854775807)
                                        order by h.plugin_id, h.id
                                        limit 1)
                           and d.next_attempt_at <= now()
                           for update skip locked) o)) k
        order by k.turn, k.kind
        limit least(greatest(q.free, 0), $1)
     ) c
     order by c.next_attempt_at, c.id
     limit $1
  ),
  claimed as (
    update deliveries d
       set lease_id = $2::uuid,
           next_attempt_at = now() + $3::integer * interval '1 millisecond'
     -- by primary key, whatever the statistics say (a join could hash the whole table)
     where d.id = any (array(select c.id from candidates c))
    returning d.id, d.attempts, d.event_id, d.plugin_id
  ),
  -- When each visited plugin may next have claimable work, as this snapshot shows it
  -- (the rows claimed just now still look due here: the next claim settles them).
  -- null: nothing undelivered, or not active: it leaves the ready set.
  outlook as (
    select v.plugin_id,
           -- the smallest pending key this snapshot shows (the rows claimed just now
           -- included, at their old keys): the new floor
           coalesce(np.next_attempt_at, 'infinity') as pending_floor, coalesce(np.id, 0) as pending_floor_id,
           case
             when not v.active then null
             -- an ordered plugin waits for its head alone: while the head waits for a
             -- retry, nothing behind it is claimable
             when v.ordered and h.id is not null and h.lease_id is null then nullif(greatest(h.next_attempt_at, now()), 'infinity')
             -- the earliest undelivered row: due now (stay in the queue, at its back),
             -- a retry later, the end of a lease (a crashed relay's rows), or 'infinity'
             -- (parked) which leaves the set like nothing
             else nullif(greatest(coalesce(least(np.next_attempt_at,
                                                 (select d.next_attempt_at from deliveries d
                                                   where d.status = 'retry' and (d.plugin_id, d.next_attempt_at) >= (v.plugin_id, '-infinity'::timestamptz)
                                                     and (d.plugin_id, d.next_attempt_at) <= (v.plugin_id, 'infinity'::timestamptz)
                                                   order by d.plugin_id, d.next_attempt_at limit 1)),
                                           'infinity'),
                                  now()), 'infinity')
           end as due_at
      from visit v
      left join lateral (select d.next_attempt_at, d.id
                           from deliveries d
                          where d.status = 'pending'
                            and (d.plugin_id, d.next_attempt_at, d.id) >= (v.plugin_id, v.pending_floor, v.pending_floor_id)
                            and (d.plugin_id, d.next_attempt_at) <= (v.plugin_id, 'infinity'::timestamptz)
                          order by d.plugin_id, d.next_attempt_at, d.id
                          limit 1) np on true
      left join lateral (select d.id, d.lease_id, d.next_attempt_at
                           from deliveries d
                          where v.ordered and d.status in ('pending', 'retry')
                            and (d.plugin_id, d.id) >= (v.plugin_id, 0) and (d.plugin_id, d.id) <= (v.plugin_id, 9223372036854775807)
                          order by d.plugin_id, d.id
                          limit 1) h on true
     -- only the rows this claim holds are settled: the others' outlook is not needed
     where v.plugin_id = any ($6::uuid[])
  ),
  -- Locked since before this snapshot (visitSql): r is the row as it is. Its floor
  -- only rises: the outlook reads pending keys from it up. A plugin that stays due is
  -- left where it is, unless more plugins are due than a claim visits ($7): then it
  -- goes to the back of the queue.
  settling as (
    select o.plugin_id, o.due_at, o.pending_floor, o.pending_floor_id,
           o.due_at is null or o.due_at > now() or $7::boolean as moves
      from outlook o
  ),
  moved as (
    update plugin_ready r
       set due_at = case when s.moves then s.due_at else r.due_at end,
           pending_floor = s.pending_floor, pending_floor_id = s.pending_floor_id
      from settling s
     where r.plugin_id = s.plugin_id and s.due_at is not null
       and (s.moves or (s.pending_floor, s.pending_floor_id) > (r.pending_floor, r.pending_floor_id))
  ),
  left_set as (
    delete from plugin_ready r
     using settling s
     where r.plugin_id = s.plugin_id and s.due_at is null
  )
  select c.id, c.attempts, c.plugin_id, v.slug, v.webhook_url, v.retry_policy, e.type, e.body,
         -- the secrets that sign now: the current one and those still in their rotation
         -- grace (as signingCiphertexts in src/secrets/secret.repository.ts reads them);
         -- one text, which the client reads several times faster than a text[]
         (select coalesce(string_agg(s.ciphertext, ' ' order by s.id desc), '')
            from (select s.id, s.ciphertext
                    from plugin_secrets s
                   where s.plugin_id = c.plugin_id and (s.expires_at is null or s.expires_at > now())
                   order by s.id desc
                   limit 5) s) as secrets
    from claimed c
    join visit v on v.plugin_id = c.plugin_id
    -- one event by primary key per row: a lateral look-up, never a join that could scan events
   cross join lateral (select e.type, e.body from events e where e.id = c.event_id limit 1) e
   order by c.id
`

/**
 * What the claim is planned under. Every look-up above asks for its rows in the
 * order of one index (plugin_id first, then what that index is sorted by) under a
 * limit, and only that index gives that order without a sort. With sorts priced
 * out, no other plan remains, whatever the statistics say. They matter: on tables
 * never analyzed (a fresh burst, a new installation) every condition gets
 * PostgreSQL's default selectivity, each look-up is estimated at one row, a sort
 * of one row costs nothing, and the planner picked deliveries_plugin_head (every
 * undelivered row of the plugin, then a sort) or deliveries_plugin (every row it
 * ever had) about as often as the right index: 20,000 rows read per claim of 50 on
 * a fresh burst of 20,000 (docs/performance.md#a-fresh-burst). The sorts the claim
 * needs (its 50 rows, in order) stay: every plan has them.
 *
 * Sequential scans are priced out too: every table the claim touches is reached
 * through an index (a plugin's ready row, its secrets, an event, a delivery by id).
 * While a table is a page or two, a scan of it is cheaper, and the planner took one
 * for the ready rows a claim settles; but the plan is made once per connection and
 * kept, and a ready set that has grown to thousands of plugins since would be read
 * whole by every claim until an ANALYZE replanned it.
 *
 * And the generic plan, always: it is the same plan (no look-up depends on a
 * parameter's value), made once per connection, where PostgreSQL would otherwise
 * re-plan this statement on every call while its tables have no statistics (2 to 3
 * ms a claim of 50 on a fresh burst, as long as the claim's own execution).
 */
export const CLAIM_PLANNER_SETTINGS = ['enable_sort = off', 'enable_incremental_sort = off', 'enable_seqscan = off', 'plan_cache_mode = force_generic_plan'] as const

/**
 * A claim costs two round trips. Both statements are prepared once per connection
 * (SQL PREPARE, so that each can travel in one simple-protocol message with the
 * statements around it): `begin`, the planner settings (`set local`: nothing else
 * run on the pool's connections is planned under them) and the visit go together;
 * then the claim and `commit`. An idle poll is the first and a `commit`. Each
 * round trip is most of what a small claim costs its relay: a relay refills a few
 * slots at a time, and with one round trip more per claim a burst to one plugin
 * drained about a tenth slower.
 */
const prepared = new WeakSet<pg.PoolClient>()

/** PREPARE of visitSql and of claimSql under a name (the tests and the bench prepare their own, to EXPLAIN them). */
export const prepareVisitSql = (name: string) => `prepare ${name} (integer, uuid) as ${visitSql}`
export const prepareClaimSql = (name: string) => `prepare ${name} (integer, uuid, integer, integer, uuid[], uuid[], boolean) as ${claimSql}`

/** The claim's transaction and the settings it is planned under, sent before the visit. */
const begin = `begin; ${CLAIM_PLANNER_SETTINGS.map((s) => `set local ${s}`).join('; ')}`

async function prepareClaim(client: pg.PoolClient): Promise<void> {
  if (prepared.has(client)) return
  try {
    await client.query(
      `${prepareVisitSql('bcs_claim_visit')}; ${prepareClaimSql('bcs_claim')}`,
    )
  } catch (error) {
    // PREPARE is not undone with its message: one that half succeeded would make every
    // later attempt on this connection fail with "already exists"
    for (const name of ['bcs_claim_visit', 'bcs_claim']) await client.query(`deallocate ${name}`).catch(() => {})
    throw error
  }
  prepared.add(client)
}

/** The arguments are written into the statement text: numbers checked, text quoted by the driver and cast. */
const integer = (n: number) => {
  if (!Number.isSafeInteger(n)) throw new TypeError(`not an integer: ${n}`)
  return String(n)
}
const uuid = (client: pg.PoolClient, id: string | null) => (id === null ? 'null::uuid' : `${client.escapeLiteral(id)}::uuid`)
const uuids = (client: pg.PoolClient, ids: string[]) => `${client.escapeLiteral(`{${ids.join(',')}}`)}::uuid[]`

/** The results of a simple-protocol message, one per statement. */
async function run(client: pg.PoolClient, text: string): Promise<pg.QueryResult[]> {
  const results = (await client.query(text)) as unknown as pg.QueryResult | pg.QueryResult[]
  return Array.isArray(results) ? results : [results]
}

/**
 * The claim's first round trip: begins its transaction and runs visitSql in it (its
 * locks last until that transaction ends). Finish it with finishClaim, or roll it back.
 */
export async function beginClaim(client: pg.PoolClient, limit: number, tenantId: string | null): Promise<Visit> {
  await prepareClaim(client)
  const results = await run(client, `${begin}; execute bcs_claim_visit (${integer(limit)}, ${uuid(client, tenantId)})`)
  return visitOf(results.at(-1)!.rows)
}

/** A Visit from visitSql's rows. */
export const visitOf = (rows: { plugin_id: string; held: boolean; crowded: boolean }[]): Visit => ({
  visit: rows.map((r) => r.plugin_id),
  held: rows.filter((r) => r.held).map((r) => r.plugin_id),
  crowded: rows[0]?.crowded ?? false,
})

/**
 * The second: claimSql for what beginClaim visited, then `end` (commit; the bench's
 * samples roll back). Nothing visited: only the `end`.
 */
export async function finishClaim(
  client: pg.PoolClient,
  visit: Visit,
  o: { limit: number; leaseId: string; leaseMs: number; maxInFlight: number; end?: 'commit' | 'rollback' },
): Promise<Claimed[]> {
  const end = o.end ?? 'commit'
  if (visit.visit.length === 0) {
    await client.query(end)
    return []
  }
  const results = await run(client, `execute bcs_claim (${claimArguments(client, visit, o)}); ${end}`)
  return results[0]!.rows as Claimed[]
}

/** claimSql's arguments for what beginClaim visited, written out for EXECUTE. */
export const claimArguments = (client: pg.PoolClient, visit: Visit, o: { limit: number; leaseId: string; leaseMs: number; maxInFlight: number }) =>
  `${integer(o.limit)}, ${uuid(client, o.leaseId)}, ${integer(o.leaseMs)}, ${integer(o.maxInFlight)}, ` +
  `${uuids(client, visit.visit)}, ${uuids(client, visit.held)}, ${visit.crowded}`

export async function claimDeliveries(
  pool: pg.Pool,
  limit: number,
  leaseId: string,
  leaseMs: number,
  tenantId: string | null = null,
  maxInFlight = 20,
): Promise<Claimed[]> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    const visit = await beginClaim(client, limit, tenantId)
    return await finishClaim(client, visit, { limit, leaseId, leaseMs, maxInFlight })
  } catch (error) {
    broken = error as Error
    // a connection that cannot roll back is not given back to the pool
    await client.query('rollback').then(
      () => (broken = undefined),
      () => {},
    )
    throw error
  } finally {
    client.release(broken)
  }
}
