import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import { cancelUndelivered } from '../deliveries/delivery.cancel.ts'
import type { Database } from '../db/database.ts'
import { inTransaction } from '../db/transaction.ts'
import type { App, Installation } from '../db/schema.ts'
import { AppError, ConflictError, NotFoundError } from '../errors.ts'
import { grants, isPermission } from '../apps/permissions.ts'
import type { SecretCipher } from '../secrets/cipher.ts'
import { checkConfig, configDetails, secretValues, storeConfig, validConfig } from './install-config.ts'
import { about, configForApp, deliverLifecycle } from './lifecycle.ts'

const requested = (app: Pick<App, 'permissions'>) => app.permissions.map((p) => p.permission)
const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x))

/** Every permission of `wanted` is covered by `granted` (write implies read). */
export const within = (wanted: readonly string[], granted: readonly string[]) => wanted.every((p) => isPermission(p) && grants(granted, p))

/** The plugin that is an installation's webhook subscription: named after the app. */
export const pluginSlugOf = (appSlug: string) => `app-${appSlug}`

export async function findApp(db: Database, slug: string): Promise<App> {
  const app = await db.selectFrom('apps').selectAll().where('slug', '=', slug).executeTakeFirst()
  if (!app) throw new AppError(404, 'APP_NOT_FOUND', `No app with slug '${slug}'`)
  return app
}

export async function findInstallation(db: Database, tenantId: string, id: string, lock = false): Promise<Installation> {
  let query = db.selectFrom('installations').selectAll().where('id', '=', id).where('tenant_id', '=', tenantId).where('status', '=', 'active')
  if (lock) query = query.forUpdate()
  const installation = await query.executeTakeFirst()
  if (!installation) throw new NotFoundError('Installation', id)
  return installation
}

/**
 * Installs an app in a store: the installation, its plugin (the webhook
 * subscription, signed with the app's secret), and app.installed to the app, in
 * one transaction. The store must accept exactly what the current version asks for.
 */
export async function install(
  db: Database,
  cipher: SecretCipher,
  tenantId: string,
  slug: string,
  acceptPermissions: string[],
  config: Record<string, unknown>,
): Promise<{ app: App; installation: Installation }> {
  const listed = await findApp(db, slug)
  const asked = requested(listed)
  if (!sameSet([...new Set(acceptPermissions)], asked)) {
    throw new AppError(409, 'PERMISSIONS_NOT_ACCEPTED', `Installing ${slug} ${listed.version} needs exactly these permissions accepted: ${asked.join(', ') || '(none)'}`, {
      permissions: listed.permissions,
    })
  }
  return inTransaction(db, async (trx) => {
    // counts the install and locks the app: a publish racing this install waits, then moves it along
    const app = await trx
      .updateTable('apps')
      .set({ installs: sql`installs + 1` })
      .where('id', '=', listed.id)
      .returningAll()
      .executeTakeFirstOrThrow()
    if (!sameSet(requested(app), asked)) throw new ConflictError('APP_CHANGED', 'A new version of the app was published meanwhile; review its permissions and try again')
    const values = validConfig(app.config_schema, config)
    const stored = storeConfig(cipher, app.config_schema, values)
    const live = await trx.selectFrom('installations').select('id').where('app_id', '=', app.id).where('tenant_id', '=', tenantId).where('status', '=', 'active').executeTakeFirst()
    if (live) throw new AppError(409, 'ALREADY_INSTALLED', `${slug} is already installed (installation ${live.id})`, { installation_id: live.id })
    const id = randomUUID()
    const plugin = await trx
      .insertInto('plugins')
      .values({ tenant_id: tenantId, slug: pluginSlugOf(app.slug), name: app.name, webhook_url: app.webhook_url, events: app.events, app_installation_id: id })
      .onConflict((oc) => oc.columns(['tenant_id', 'slug']).where('status', '<>', 'deleted').where('retired_at', 'is', null).doNothing())
      .returning('id')
      .executeTakeFirst()
    if (!plugin) throw new ConflictError('PLUGIN_SLUG_TAKEN', `The store already has a plugin with slug '${pluginSlugOf(app.slug)}'; rename or delete it to install ${slug}`)
    // the app's one signing secret signs this installation's deliveries too
    await trx.insertInto('plugin_secrets').values({ tenant_id: tenantId, plugin_id: plugin.id, ciphertext: app.signing_secret }).execute()
    const installation = await trx
      .insertInto('installations')
      .values({
        id,
        app_id: app.id,
        tenant_id: tenantId,
        plugin_id: plugin.id,
        version: app.version,
        permissions: asked,
        config: JSON.stringify(stored.config),
        secret_config: stored.secretConfig,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
    await deliverLifecycle(trx, installation, 'app.installed', {
      ...about(app, installation),
      version: installation.version,
      permissions: installation.permissions,
      config: configForApp(cipher, app, installation),
    })
    return { app, installation }
  })
}

/**
 * Uninstalls: its tokens stop working (they are deleted, and a token's look-up also
 * requires a live installation), its undelivered deliveries are cancelled, and
 * its plugin is retired with app.uninstalled as its last delivery.
 */
export async function uninstall(db: Database, tenantId: string, id: string): Promise<Installation> {
  return inTransaction(db, async (trx) => {
    const installation = await trx
      .updateTable('installations')
      .set({ status: 'uninstalled', uninstalled_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .where('status', '=', 'active')
      .returningAll()
      .executeTakeFirst()
    if (!installation) throw new NotFoundError('Installation', id)
    await trx.deleteFrom('app_access_tokens').where('installation_id', '=', id).execute()
    await cancelUndelivered(trx, installation.plugin_id)
    // active, so the farewell goes out even if the store had paused it; no events, so nothing else does
    await trx
      .updateTable('plugins')
      .set({
        status: 'active',
        events: [],
        retired_at: sql`now()`,
        disabled_reason: null,
        disabled_at: null,
        consecutive_failures: 0,
        failing_since: null,
        updated_at: sql`now()`,
      })
      .where('id', '=', installation.plugin_id)
      .execute()
    const app = await trx
      .updateTable('apps')
      .set({ installs: sql`greatest(installs - 1, 0)` })
      .where('id', '=', installation.app_id)
      .returningAll()
      .executeTakeFirstOrThrow()
    await deliverLifecycle(trx, installation, 'app.uninstalled', about(app, installation))
    return installation
  })
}

async function versionSchema(db: Database, appId: string, version: string): Promise<Record<string, unknown>> {
  const row = await db.selectFrom('app_versions').select('config_schema').where('app_id', '=', appId).where('version', '=', version).executeTakeFirstOrThrow()
  return row.config_schema
}

/**
 * Replaces the config (writeOnly values left out keep their stored value, so a
 * store need not type a secret again) and tells the app with app.config_updated.
 */
export async function updateConfig(db: Database, cipher: SecretCipher, tenantId: string, id: string, config: Record<string, unknown>): Promise<Installation> {
  return inTransaction(db, async (trx) => {
    const before = await findInstallation(trx, tenantId, id, true)
    const schema = await versionSchema(trx, before.app_id, before.version)
    const values = validConfig(schema, { ...secretValues(cipher, before.secret_config), ...config })
    const stored = storeConfig(cipher, schema, values)
    const installation = await trx
      .updateTable('installations')
      .set({ config: JSON.stringify(stored.config), secret_config: stored.secretConfig, updated_at: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow()
    const app = await trx.selectFrom('apps').selectAll().where('id', '=', installation.app_id).executeTakeFirstOrThrow()
    await deliverLifecycle(trx, installation, 'app.config_updated', {
      ...about(app, installation),
      version: installation.version,
      config: configForApp(cipher, app, installation),
    })
    return installation
  })
}

interface VersionRow {
  version: string
  webhook_url: string
  events: string[]
  permissions: { permission: string }[]
  config_schema: Record<string, unknown>
}

/** Moves one installation to a version: its plugin, permissions and config (defaults of the new schema applied). */
async function moveTo(
  trx: Database,
  cipher: SecretCipher,
  app: App,
  before: Installation,
  target: VersionRow,
  given: Record<string, unknown> = before.config,
): Promise<Installation> {
  const values = { ...secretValues(cipher, before.secret_config), ...given }
  const { config, problems } = checkConfig(target.config_schema, values)
  if (problems.length > 0) {
    throw new AppError(409, 'CONFIG_INVALID_FOR_VERSION', `The config does not fit version ${target.version}: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`, { problems, details: configDetails(problems) })
  }
  const stored = storeConfig(cipher, target.config_schema, config)
  const permissions = target.permissions.map((p) => p.permission)
  const installation = await trx
    .updateTable('installations')
    .set({
      version: target.version,
      permissions,
      pending_version: null,
      pending_permissions: null,
      config: JSON.stringify(stored.config),
      secret_config: stored.secretConfig,
      updated_at: sql`now()`,
    })
    .where('id', '=', before.id)
    .returningAll()
    .executeTakeFirstOrThrow()
  await trx
    .updateTable('plugins')
    .set({ name: app.name, webhook_url: target.webhook_url, events: target.events, updated_at: sql`now()` })
    .where('id', '=', before.plugin_id)
    .where('retired_at', 'is', null)
    .execute()
  if (!sameSet(permissions, before.permissions)) {
    await deliverLifecycle(trx, installation, 'app.permissions_updated', {
      ...about(app, installation),
      version: installation.version,
      permissions,
      previous_permissions: before.permissions,
    })
  }
  return installation
}

/**
 * The store grants what the pending version asks for; the installation moves to it
 * and the app hears app.permissions_updated. `config`, when given, is the config for
 * the new version (a version may ask for settings the old one did not have).
 */
export async function approve(db: Database, cipher: SecretCipher, tenantId: string, id: string, config?: Record<string, unknown>): Promise<Installation> {
  return inTransaction(db, async (trx) => {
    const before = await findInstallation(trx, tenantId, id, true)
    if (!before.pending_version) throw new ConflictError('NOTHING_TO_APPROVE', 'This installation has no pending permissions')
    const app = await trx.selectFrom('apps').selectAll().where('id', '=', before.app_id).executeTakeFirstOrThrow()
    const target = await trx.selectFrom('app_versions').selectAll().where('app_id', '=', app.id).where('version', '=', before.pending_version).executeTakeFirstOrThrow()
    if (config !== undefined) validConfig(target.config_schema, { ...secretValues(cipher, before.secret_config), ...config })
    return moveTo(trx, cipher, app, before, target, config)
  })
}

/**
 * After a publish (inside its transaction): each live installation follows the new
 * version at once when the version asks for nothing beyond what the store granted
 * and its config still fits; otherwise it stays where it is and the version waits
 * as pending_permissions for the store's approval. Costs one pass over the app's
 * installations, once per publish, in pages of 500 moved with a few statements each
 * (one per installation only where the permissions narrow and the app must be told).
 */
export async function followNewVersion(trx: Database, cipher: SecretCipher, app: App): Promise<{ followed: number; pending: number }> {
  const target: VersionRow = app
  const wanted = requested(app)
  let followed = 0
  let pending = 0
  let after: string | null = null
  for (;;) {
    let query = trx.selectFrom('installations').selectAll().where('app_id', '=', app.id).where('status', '=', 'active').orderBy('id').limit(500)
    if (after) query = query.where('id', '>', after)
    const page = await query.forUpdate().execute()
    if (page.length === 0) break
    const waiting: string[] = []
    // the common case, a version asking for the same permissions, moves in two statements per page
    const same: { installation: Installation; stored: ReturnType<typeof storeConfig> }[] = []
    for (const installation of page) {
      const checked = checkConfig(app.config_schema, { ...installation.config, ...secretValues(cipher, installation.secret_config) })
      if (!within(wanted, installation.permissions) || checked.problems.length > 0) waiting.push(installation.id)
      else if (sameSet(wanted, installation.permissions)) same.push({ installation, stored: storeConfig(cipher, app.config_schema, checked.config) })
      else {
        await moveTo(trx, cipher, app, installation, target)
        followed++
      }
    }
    if (same.length > 0) {
      await sql`
        update installations i
           set version = ${app.version}, pending_version = null, pending_permissions = null,
               config = c.config, secret_config = c.secret_config, updated_at = now()
          from unnest(${same.map((f) => f.installation.id)}::uuid[],
                      ${same.map((f) => JSON.stringify(f.stored.config))}::jsonb[],
                      ${same.map((f) => f.stored.secretConfig)}::text[]) as c(id, config, secret_config)
         where i.id = c.id
      `.execute(trx)
      await trx
        .updateTable('plugins')
        .set({ name: app.name, webhook_url: app.webhook_url, events: app.events, updated_at: sql`now()` })
        .where('id', 'in', same.map((f) => f.installation.plugin_id))
        .where('retired_at', 'is', null)
        .execute()
      followed += same.length
    }
    if (waiting.length > 0) {
      await trx
        .updateTable('installations')
        .set({ pending_version: app.version, pending_permissions: wanted, updated_at: sql`now()` })
        .where('id', 'in', waiting)
        .execute()
      pending += waiting.length
    }
    after = page.at(-1)!.id
  }
  return { followed, pending }
}
