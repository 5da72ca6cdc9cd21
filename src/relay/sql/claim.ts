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

/**
 * Claims up to `limit` due deliveries for one relay: locks them with SKIP LOCKED
 * (relays never wait on each other), stamps them with the claim's lease id (the
 * fence every outcome must present) and pushes their due time to the end of the
 * lease, so that a relay that dies holding them only delays them.
 *
 * Fair by construction: due deliveries are taken plugin by plugin, each active
 * plugin at most up to its free share of `maxInFlight` (counted over all relays'
 * live leases), oldest first overall. A plugin whose endpoint hangs, or that has a
 * mountain of due retries, fills its share and no more; the others' deliveries go
 * out beside it. An `ordered` plugin gets one at a time, and only its oldest
 * undelivered delivery (its head): a head waiting for a retry blocks that plugin only.
 * Paused, disabled and deleted plugins are not looked at at all.
 *
 * Each plugin's look-up reads partial indexes of its claimable rows
 * (deliveries_plugin_pending, deliveries_plugin_retry), so the cost does not grow
 * with delivered history.
 */
export const claimSql = `
  with quota as (
    select p.id as plugin_id, p.ordered,
           (case when p.ordered then 1 else $5::integer end)
             - (select count(*)::integer
                  from deliveries l
                 where l.plugin_id = p.id and l.lease_id is not null
                   and l.status in ('pending', 'retry') and l.next_attempt_at > now()) as free
      from plugins p
     where p.status = 'active'
       -- a relay claims for every tenant; "process pending webhooks" only for its caller's
       and ($4::uuid is null or p.tenant_id = $4::uuid)
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
                         where not q.ordered and d.plugin_id = q.plugin_id
                           and d.status = 'pending' and d.next_attempt_at <= now()
                         order by d.next_attempt_at, d.id
                         limit least(greatest(q.free, 0), $1)
                           for update skip locked) f)
               union all
               (select r.id, r.next_attempt_at, 1 as kind, row_number() over (order by r.next_attempt_at, r.id) as turn
                  from (select d.id, d.next_attempt_at
                          from deliveries d
                         where not q.ordered and d.plugin_id = q.plugin_id
                           and d.status = 'retry' and d.next_attempt_at <= now()
                         order by d.next_attempt_at, d.id
                         limit least(greatest(q.free, 0), $1)
                           for update skip locked) r)
               union all
               -- an ordered plugin's head (its oldest undelivered delivery), if due;
               -- while the head is in flight or locked, nothing
               (select o.id, o.next_attempt_at, 0 as kind, 1 as turn
                  from (select d.id, d.next_attempt_at
                          from deliveries d
                         where q.ordered and q.free > 0
                           and d.id = (select min(h.id) from deliveries h
                                        where h.plugin_id = q.plugin_id and h.status in ('pending', 'retry'))
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
      from candidates c, plugins p
     where d.id = c.id and p.id = d.plugin_id and p.status = 'active'
    returning d.id, d.attempts, d.event_id, d.plugin_id, p.slug, p.webhook_url, p.retry_policy
  )
  select c.id, c.attempts, c.plugin_id, c.slug, c.webhook_url, c.retry_policy, e.type, e.body,
         -- the secrets that sign now: the current one and those still in their rotation
         -- grace (as signingCiphertexts in src/secrets/secret.repository.ts reads them);
         -- one text, which the client reads several times faster than a text[]
         (select coalesce(string_agg(s.ciphertext, ' ' order by s.id desc), '')
            from (select s.id, s.ciphertext
                    from plugin_secrets s
                   where s.plugin_id = c.plugin_id and (s.expires_at is null or s.expires_at > now())
                   order by s.id desc
                   limit 5) s) as secrets
    from claimed c join events e on e.id = c.event_id
   order by c.id
`

export async function claimDeliveries(
  pool: pg.Pool,
  limit: number,
  leaseId: string,
  leaseMs: number,
  tenantId: string | null = null,
  maxInFlight = 20,
): Promise<Claimed[]> {
  const { rows } = await pool.query<Claimed>({ name: 'relay_claim', text: claimSql, values: [limit, leaseId, leaseMs, tenantId, maxInFlight] })
  return rows
}
