import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { inTransaction } from '../db/transaction.ts'
import type { App } from '../db/schema.ts'
import { AppError, NotFoundError } from '../errors.ts'
import { generateCredential, hashCredential, isCredential } from '../apps/credentials.ts'

/** An installation access token lives an hour (GitHub Apps' choice): a leak is short-lived, and the app mints another at will. */
export const ACCESS_TOKEN_TTL_MS = 60 * 60 * 1000
/** Live tokens kept per installation; minting beyond this drops the oldest, so no app can fill the table. */
const MAX_LIVE_TOKENS = 25

/** What a request presenting an installation token may act as. */
export interface InstallationGrant {
  installationId: string
  tenantId: string
  appId: string
  /** the installation's permissions now, not when the token was minted: an approval or uninstall applies at once */
  permissions: string[]
}

export interface MintedToken {
  token: string
  expires_at: string
  permissions: string[]
  installation_id: string
  tenant_id: string
}

/** Mints a token for an installation of `app`; an installation of another app, or one uninstalled, is not found. */
export async function mintAccessToken(db: Database, app: App, installationId: string): Promise<MintedToken> {
  const token = generateCredential('accessToken')
  return inTransaction(db, async (trx) => {
    const installation = await trx
      .selectFrom('installations')
      .select(['id', 'tenant_id', 'permissions'])
      .where('id', '=', installationId)
      .where('app_id', '=', app.id)
      .where('status', '=', 'active')
      .forShare()
      .executeTakeFirst()
    if (!installation) throw new NotFoundError('Installation', installationId)
    const row = await trx
      .insertInto('app_access_tokens')
      .values({
        token_hash: hashCredential(token),
        installation_id: installation.id,
        tenant_id: installation.tenant_id,
        expires_at: sql`now() + ${ACCESS_TOKEN_TTL_MS}::integer * interval '1 millisecond'`,
      })
      .returning('expires_at')
      .executeTakeFirstOrThrow()
    // expired ones and the oldest beyond the cap go: the index (installation_id, expires_at) finds them
    await sql`
      delete from app_access_tokens
       where installation_id = ${installation.id}
         and (expires_at <= now()
              or token_hash not in (select token_hash from app_access_tokens
                                     where installation_id = ${installation.id}
                                     order by expires_at desc limit ${MAX_LIVE_TOKENS}))
    `.execute(trx)
    return {
      token,
      expires_at: row.expires_at.toISOString(),
      permissions: installation.permissions,
      installation_id: installation.id,
      tenant_id: installation.tenant_id,
    }
  })
}

export const isAccessToken = (value: string): boolean => value.startsWith('bcs_iat_')

const invalid = () => new AppError(401, 'INVALID_ACCESS_TOKEN', 'The access token is invalid, or its installation was uninstalled')

/** The grant of a presented token, or the 401 to answer. One look-up by the token's hash. */
export async function resolveAccessToken(db: Database, token: string): Promise<InstallationGrant | AppError> {
  if (!isCredential('accessToken', token)) return invalid()
  const row = await db
    .selectFrom('app_access_tokens as t')
    .innerJoin('installations as i', 'i.id', 't.installation_id')
    .select(['t.installation_id', 't.tenant_id', 'i.app_id', 'i.permissions', sql<boolean>`t.expires_at <= now()`.as('expired')])
    .where('t.token_hash', '=', hashCredential(token))
    .where('i.status', '=', 'active')
    .executeTakeFirst()
  if (!row) return invalid()
  if (row.expired) return new AppError(401, 'ACCESS_TOKEN_EXPIRED', 'The access token has expired; ask for a new one')
  return { installationId: row.installation_id, tenantId: row.tenant_id, appId: row.app_id, permissions: row.permissions }
}
