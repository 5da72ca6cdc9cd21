import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { ApiKey } from '../db/schema.ts'
import { NotFoundError } from '../errors.ts'
import { KEY_REVOKED_CHANNEL } from './revocation-watch.ts'
import { generateKey, hashKey, isWellFormedKey, keyPrefix } from './api-key.token.ts'

/** What a request learns from its key. */
export interface KeyIdentity {
  id: string
  tenantId: string
  /** manages its tenant's keys */
  admin: boolean
  /** reads process-wide data that spans tenants (/metrics); only bin/admin creates one */
  operator: boolean
}

export type ApiKeyRow = Omit<ApiKey, 'key_hash'>

const columns = ['id', 'tenant_id', 'name', 'prefix', 'admin', 'operator', 'created_at', 'revoked_at'] as const

/** Creates a key and returns it in clear: the only time it exists outside the caller's hands. */
export async function createApiKey(
  db: Database,
  tenantId: string,
  input: { name?: string; admin?: boolean; operator?: boolean },
): Promise<{ row: ApiKeyRow; key: string }> {
  const key = generateKey()
  const row = await db
    .insertInto('api_keys')
    .values({
      tenant_id: tenantId,
      name: input.name ?? '',
      admin: input.admin ?? false,
      operator: input.operator ?? false,
      prefix: keyPrefix(key),
      key_hash: hashKey(key),
    })
    .returning(columns)
    .executeTakeFirstOrThrow()
  return { row, key }
}

/** The tenant's keys (every tenant's when `tenantId` is null: the operator's CLI), revoked ones included. */
export function listApiKeys(db: Database, tenantId: string | null): Promise<ApiKeyRow[]> {
  let query = db.selectFrom('api_keys').select(columns).orderBy('created_at').orderBy('id')
  if (tenantId !== null) query = query.where('tenant_id', '=', tenantId)
  return query.execute()
}

/**
 * Revokes a live key of the tenant (of any tenant when `tenantId` is null); an
 * unknown, foreign or revoked key is not found. The same statement announces the
 * revocation (delivered at commit) so every process ends what the key holds open.
 */
export async function revokeApiKey(db: Database, tenantId: string | null, id: string): Promise<ApiKeyRow> {
  const { rows } = await sql<ApiKeyRow>`
    with revoked as (
      update api_keys
         set revoked_at = now()
       where id = ${id} and revoked_at is null ${tenantId === null ? sql`` : sql`and tenant_id = ${tenantId}`}
      returning ${sql.join(columns.map((c) => sql.ref(c)))}
    )
    select revoked.*, pg_notify(${KEY_REVOKED_CHANNEL}, revoked.id::text) from revoked
  `.execute(db)
  const row = rows[0]
  if (!row) throw new NotFoundError('API key', id)
  const { pg_notify: _notified, ...key } = row as ApiKeyRow & { pg_notify?: unknown }
  return key
}

/** Of these key ids, the ones still live (not revoked): one lookup by primary key each. */
export async function liveKeyIds(db: Database, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set()
  const rows = await db.selectFrom('api_keys').select('id').where('id', 'in', ids).where('revoked_at', 'is', null).execute()
  return new Set(rows.map((r) => r.id))
}

/** The live key a request presents, or undefined. One lookup by the unique hash index. */
export async function findKey(db: Database, key: string): Promise<KeyIdentity | undefined> {
  if (!isWellFormedKey(key)) return undefined
  const row = await db
    .selectFrom('api_keys')
    .select(['id', 'tenant_id', 'admin', 'operator'])
    .where('key_hash', '=', hashKey(key))
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return row && { id: row.id, tenantId: row.tenant_id, admin: row.admin, operator: row.operator }
}
