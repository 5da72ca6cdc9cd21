import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { decodeCursor, encodeCursor } from '../db/keyset.ts'
import { ValidationError } from '../errors.ts'

export interface InstallationHealth {
  id: string
  tenant_id: string
  status: string
  version: string
  permissions: string[]
  pending_version: string | null
  pending_permissions: string[] | null
  created_at: Date
  uninstalled_at: Date | null
  sent: number
  failed: number
}

/**
 * An app's installations for its developer, newest first, each with its delivery
 * health over the last day. The day's deliveries are found from a watermark (the
 * id of the first delivery settled in the last day, through deliveries_settled_id),
 * so each installation's count reads its plugin's last day only
 * (deliveries_plugin), not its whole history.
 */
export async function installationsWithHealth(
  db: Database,
  appId: string,
  limit: number,
  cursor?: string,
): Promise<{ rows: InstallationHealth[]; nextCursor: string | null }> {
  const after = cursor ? decodeCursor(cursor) : null
  if (after && !/^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(after[0])) throw new ValidationError('INVALID_CURSOR', 'cursor is not one this API returned')
  const { rows } = await sql<InstallationHealth>`
    with watermark as (
      select coalesce(
               (select id from deliveries
                 where status in ('sent', 'failed', 'cancelled') and created_at >= now() - interval '1 day'
                 order by created_at limit 1),
               (select coalesce(max(id), 0) + 1 from deliveries)) as since
    )
    select i.id, i.tenant_id, i.status, i.version, i.permissions, i.pending_version, i.pending_permissions,
           i.created_at, i.uninstalled_at, h.sent, h.failed
      from installations i
     cross join watermark w
     cross join lateral (
       select count(*) filter (where d.status = 'sent')::integer as sent,
              count(*) filter (where d.status = 'failed')::integer as failed
         from deliveries d
        where d.plugin_id = i.plugin_id and d.id >= w.since and d.created_at >= now() - interval '1 day'
     ) h
     where i.app_id = ${appId}
       and (${after?.[0] ?? null}::timestamptz is null or (i.created_at, i.id) < (${after?.[0] ?? null}::timestamptz, ${after?.[1] ?? null}::uuid))
     order by i.created_at desc, i.id desc
     limit ${limit + 1}
  `.execute(db)
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return { rows: page, nextCursor: rows.length > limit && last ? encodeCursor(last) : null }
}
