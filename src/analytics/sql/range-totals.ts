import { sql, type RawBuilder } from 'kysely'
import type { Database } from '../../db/database.ts'
import type { Tiles } from '../range.ts'

/** A signed piece of a plugin's range total: its histograms as text ("3,0,1"), '' when not asked for. */
export interface TotalPart {
  plugin_id: string
  sign: number
  attempts: number
  sent: number
  retried: number
  failed: number
  latency: string
  e2e: string
  causes: string
}

/** Which plugins: a store's live ones, or these ids. */
export type PluginSet = { tenantId: string } | { ids: readonly string[] }

/**
 * Every piece of each plugin's total over `tiles`: +latest running total before
 * the end and −latest before the start (two probes of analytics_total's primary
 * key), and the hour and minute rollups of the edges (their primary key, by
 * plugin and bucket). Driven from the plugins, so no plan can read another
 * store's rows or more than the range: the cost is the plugins' number times
 * a few rows, not the rows stored.
 */
export async function readTotalParts(
  db: Database,
  plugins: PluginSet,
  tiles: Tiles,
  histograms: { latency: boolean; e2e: boolean; causes: boolean },
): Promise<TotalPart[]> {
  const query = totalPartsQuery(plugins, tiles, histograms)
  return query ? (await query.execute(db)).rows : []
}

/** The statement of readTotalParts (a test EXPLAINs it); null when the range is empty. */
export function totalPartsQuery(plugins: PluginSet, tiles: Tiles, histograms: { latency: boolean; e2e: boolean; causes: boolean }) {
  const text = (on: boolean, column: string) => (on ? sql`array_to_string(x.${sql.ref(column)}, ',')` : sql`''`)
  const columns = (alias: string, sign: number) => {
    const a = sql.raw(alias)
    return sql`${sign}::integer as sign, ${a}.attempts::bigint as attempts, ${a}.sent::bigint as sent, ${a}.retried::bigint as retried, ${a}.failed::bigint as failed,
               ${a}.latency::bigint[] as latency, ${a}.e2e::bigint[] as e2e, ${a}.causes::bigint[] as causes`
  }
  const parts: RawBuilder<unknown>[] = []
  if (tiles.totals) {
    const { from, to } = tiles.totals
    parts.push(sql`(select ${columns('t', 1)} from analytics_total t
                     where t.plugin_id = p.id and (${to}::timestamptz is null or t.day < ${to}::timestamptz)
                     order by t.day desc limit 1)`)
    parts.push(sql`(select ${columns('t', -1)} from analytics_total t
                     where t.plugin_id = p.id and t.day < ${from}::timestamptz
                     order by t.day desc limit 1)`)
  }
  for (const r of tiles.rows) {
    const table = sql.table(r.grain === 'minute' ? 'analytics_minute' : 'analytics_hour')
    parts.push(sql`(select ${columns('r', 1)} from ${table} r
                     where r.plugin_id = p.id and r.bucket >= ${r.from}::timestamptz and r.bucket < ${r.to}::timestamptz)`)
  }
  if (parts.length === 0) return null
  const which = 'tenantId' in plugins ? sql`p.tenant_id = ${plugins.tenantId}::uuid and p.status <> 'deleted'` : sql`p.id = any (${plugins.ids}::uuid[])`
  return sql<TotalPart>`
    select p.id as plugin_id, x.sign, x.attempts::float8 as attempts, x.sent::float8 as sent, x.retried::float8 as retried, x.failed::float8 as failed,
           ${text(histograms.latency, 'latency')} as latency, ${text(histograms.e2e, 'e2e')} as e2e, ${text(histograms.causes, 'causes')} as causes
      from plugins p
     cross join lateral (${sql.join(parts, sql` union all `)}) x
     where ${which}
  `
}
