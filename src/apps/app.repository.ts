import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { inTransaction } from '../db/transaction.ts'
import type { App } from '../db/schema.ts'
import { AppError, ConflictError, NotFoundError } from '../errors.ts'
import type { SecretCipher } from '../secrets/cipher.ts'
import { generateSecret } from '../webhooks/signature.ts'
import { generateClientId, generateCredential, hashCredential, isCredential, sameHash } from './credentials.ts'
import type { Manifest } from './manifest.ts'
import { addVocabulary, searchVector } from './search-text.ts'
import { compareSemver } from './semver.ts'

const manifestColumns = (m: Manifest) => ({
  name: m.name,
  tagline: m.tagline,
  description: m.description,
  categories: m.categories,
  icon_url: m.icon_url,
  homepage_url: m.homepage_url,
  support_url: m.support_url,
  privacy_url: m.privacy_url,
  listed: m.listed,
  version: m.version,
  webhook_url: m.webhook_url,
  events: m.events,
  permissions: JSON.stringify(m.permissions),
  config_schema: JSON.stringify(m.config_schema),
  search: searchVector(m),
})

async function recordVersion(db: Database, appId: string, m: Manifest): Promise<void> {
  await db
    .insertInto('app_versions')
    .values({
      app_id: appId,
      version: m.version,
      webhook_url: m.webhook_url,
      events: m.events,
      permissions: JSON.stringify(m.permissions),
      config_schema: JSON.stringify(m.config_schema),
    })
    .execute()
}

export interface CreatedApp {
  app: App
  clientSecret: string
  signingSecret: string
}

/** Creates an app and its first version; its secrets are returned in clear, this once. */
export async function createApp(db: Database, cipher: SecretCipher, developerId: string, slug: string, m: Manifest): Promise<CreatedApp> {
  const clientSecret = generateCredential('clientSecret')
  const signingSecret = generateSecret()
  return inTransaction(db, async (trx) => {
    const app = await trx
      .insertInto('apps')
      .values({ developer_id: developerId, slug, client_id: generateClientId(), signing_secret: cipher.encrypt(signingSecret), ...manifestColumns(m) })
      .onConflict((oc) => oc.column('slug').doNothing())
      .returningAll()
      .executeTakeFirst()
    if (!app) throw new ConflictError('SLUG_TAKEN', `An app with slug '${slug}' already exists`)
    await trx.insertInto('app_client_secrets').values({ app_id: app.id, secret_hash: hashCredential(clientSecret) }).execute()
    await recordVersion(trx, app.id, m)
    await addVocabulary(trx, m)
    return { app, clientSecret, signingSecret }
  })
}

/** A developer's own app; another developer's is not found, as if it did not exist. */
export async function findOwnApp(db: Database, developerId: string, slug: string, lock = false): Promise<App> {
  let query = db.selectFrom('apps').selectAll().where('slug', '=', slug).where('developer_id', '=', developerId)
  if (lock) query = query.forUpdate()
  const app = await query.executeTakeFirst()
  if (!app) throw new NotFoundError('App', slug)
  return app
}

export function listOwnApps(db: Database, developerId: string): Promise<App[]> {
  return db.selectFrom('apps').selectAll().where('developer_id', '=', developerId).orderBy('created_at').orderBy('id').execute()
}

/**
 * Publishes a new version (strictly greater than the current one) inside the
 * caller's transaction; the caller moves the installations along.
 */
export async function publishVersion(trx: Database, developerId: string, slug: string, m: Manifest): Promise<{ before: App; after: App }> {
  const before = await findOwnApp(trx, developerId, slug, true)
  if (compareSemver(m.version, before.version) <= 0) {
    throw new AppError(409, 'VERSION_NOT_INCREASING', `version ${m.version} must be greater than the current ${before.version}`, { current_version: before.version })
  }
  const after = await trx
    .updateTable('apps')
    .set({ ...manifestColumns(m), updated_at: sql`now()` })
    .where('id', '=', before.id)
    .returningAll()
    .executeTakeFirstOrThrow()
  await recordVersion(trx, after.id, m)
  await addVocabulary(trx, m)
  return { before, after }
}

/**
 * Makes a new client secret current; the one it replaces keeps working for
 * `graceMs` (as signing secrets do), so the app can switch without downtime.
 */
export async function rotateClientSecret(db: Database, appId: string, graceMs: number): Promise<{ secret: string; previousExpiresAt: Date | null }> {
  const secret = generateCredential('clientSecret')
  return inTransaction(db, async (trx) => {
    await trx.selectFrom('apps').select('id').where('id', '=', appId).forUpdate().execute()
    const previous = await trx
      .updateTable('app_client_secrets')
      .set({ expires_at: sql`now() + ${graceMs}::integer * interval '1 millisecond'` })
      .where('app_id', '=', appId)
      .where('expires_at', 'is', null)
      .returning('expires_at')
      .executeTakeFirst()
    await trx.deleteFrom('app_client_secrets').where('app_id', '=', appId).where('expires_at', '<=', sql<Date>`now()`).execute()
    await trx.insertInto('app_client_secrets').values({ app_id: appId, secret_hash: hashCredential(secret) }).execute()
    return { secret, previousExpiresAt: previous?.expires_at ?? null }
  })
}

/** The app whose client_id and client_secret these are, or undefined. */
export async function authenticateClient(db: Database, clientId: string, clientSecret: string): Promise<App | undefined> {
  if (!/^app_[0-9a-f]{20}$/.test(clientId) || !isCredential('clientSecret', clientSecret)) return undefined
  const app = await db.selectFrom('apps').selectAll().where('client_id', '=', clientId).executeTakeFirst()
  if (!app) return undefined
  const hashes = await db
    .selectFrom('app_client_secrets')
    .select('secret_hash')
    .where('app_id', '=', app.id)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .execute()
  const presented = hashCredential(clientSecret)
  return hashes.some((h) => sameHash(h.secret_hash, presented)) ? app : undefined
}
