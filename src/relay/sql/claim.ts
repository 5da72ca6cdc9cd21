import type pg from 'pg'

export interface Claimed {
  id: number
  /** attempts recorded before this claim; this attempt is attempts + 1 */
  attempts: number
  slug: string
  webhook_url: string
  type: string
  body: string
}

/**
 * Claims up to `limit` due deliveries for one relay: locks them with SKIP LOCKED
 * (relays never wait on each other), stamps them with the claim's lease id (the
 * fence every outcome must present) and pushes their due time to the end of the
 * lease, so that a relay that dies holding them only delays them.
 *
 * Deliveries of a plugin that is no longer active are parked instead ('infinity'
 * until it resumes), or cancelled if it was deleted: a paused plugin's backlog is
 * stepped over once, not re-read by every claim.
 */
const text = `
  with due as (
    select d.id, d.plugin_id
      from deliveries d
     where d.status in ('pending', 'retry')
       and d.next_attempt_at <= now()
     order by d.next_attempt_at, d.id
     limit $1
       for update skip locked
  ),
  parked as (
    update deliveries d
       set next_attempt_at = 'infinity',
           status = case when p.status = 'deleted' then 'cancelled' else d.status end
      from due join plugins p on p.id = due.plugin_id
     where d.id = due.id and p.status <> 'active'
  ),
  claimed as (
    update deliveries d
       set lease_id = $2::uuid,
           next_attempt_at = now() + $3::integer * interval '1 millisecond'
      from due join plugins p on p.id = due.plugin_id
     where d.id = due.id and p.status = 'active'
    returning d.id, d.attempts, d.event_id, p.slug, p.webhook_url
  )
  select c.id, c.attempts, c.slug, c.webhook_url, e.type, e.body
    from claimed c join events e on e.id = c.event_id
   order by c.id
`

export async function claimDeliveries(pool: pg.Pool, limit: number, leaseId: string, leaseMs: number): Promise<Claimed[]> {
  const { rows } = await pool.query<Claimed>({ name: 'relay_claim', text, values: [limit, leaseId, leaseMs] })
  return rows
}
