import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { inTransaction } from '../db/transaction.ts'
import { generateSecret, parseSecret } from '../webhooks/signature.ts'
import type { SecretCipher } from './cipher.ts'

/**
 * Secrets signing at once, the current one included. A rotation beyond this ends
 * the grace of the oldest at once: a rotation (often after a leak) is never refused.
 */
export const MAX_SIGNING_SECRETS = 5

interface PluginRef {
  id: string
  tenant_id: string
}

/** What a plugin's secrets are bound to (AES-GCM associated data): a ciphertext moved to another plugin does not decrypt. */
export const secretContext = (pluginId: string): string => `plugin_secrets:${pluginId}`

/** One spelling per secret, `whsec_` + standard base64 of the key, whatever form it was given in. */
export const canonicalSecret = (secret: string): string => `whsec_${parseSecret(secret).toString('base64')}`

/** Gives a new plugin its secret (inside the registration's transaction); returns it in clear, once. */
export async function createSecret(db: Database, cipher: SecretCipher, plugin: PluginRef): Promise<string> {
  const secret = generateSecret()
  await db
    .insertInto('plugin_secrets')
    .values({ tenant_id: plugin.tenant_id, plugin_id: plugin.id, ciphertext: cipher.encrypt(secret, secretContext(plugin.id)) })
    .execute()
  return secret
}

/**
 * The plugin's signing secrets, encrypted, newest first, space-separated ('' if
 * none): the current one and those still inside their grace window. The relay's
 * claim selects the same with each delivery (src/relay/sql/claim.ts).
 */
export async function signingCiphertexts(db: Database, pluginId: string): Promise<string> {
  const { rows } = await sql<{ secrets: string }>`
    select coalesce(string_agg(s.ciphertext, ' ' order by s.id desc), '') as secrets
      from (select id, ciphertext
              from plugin_secrets
             where plugin_id = ${pluginId} and (expires_at is null or expires_at > now())
             order by id desc
             limit ${MAX_SIGNING_SECRETS}) s
  `.execute(db)
  return rows[0]?.secrets ?? ''
}

/**
 * Gives a plugin that has none (one registered before signing existed, or written
 * straight into the table) its first secret. Safe to race: the partial unique
 * index keeps one current secret and the loser's insert does nothing.
 */
export async function ensureSecret(db: Database, cipher: SecretCipher, pluginId: string): Promise<void> {
  await sql`
    insert into plugin_secrets (tenant_id, plugin_id, ciphertext)
    select p.tenant_id, p.id, ${cipher.encrypt(generateSecret(), secretContext(pluginId))}
      from plugins p
     where p.id = ${pluginId}
       and not exists (select from plugin_secrets s where s.plugin_id = p.id and s.expires_at is null)
    on conflict (plugin_id) where expires_at is null do nothing
  `.execute(db)
}

/** The current secret in clear (`GET /api/plugins/:slug/secret`). */
export async function currentSecret(db: Database, cipher: SecretCipher, pluginId: string): Promise<string> {
  const current = () =>
    db.selectFrom('plugin_secrets').select('ciphertext').where('plugin_id', '=', pluginId).where('expires_at', 'is', null).executeTakeFirst()
  let row = await current()
  if (!row) {
    await ensureSecret(db, cipher, pluginId)
    row = await current()
  }
  if (!row) throw new Error(`plugin ${pluginId} has no secret and none could be created`)
  return cipher.decrypt(row.ciphertext, secretContext(pluginId))
}

export interface Rotated {
  secret: string
  /** until when the secret it replaced keeps signing; null if there was none */
  previousExpiresAt: Date | null
}

/**
 * Makes `secret` (or a fresh one) the plugin's current secret. The one it replaces
 * keeps signing for `graceMs`, so receivers can switch without losing a delivery;
 * expired secrets are deleted, being of no further use.
 */
export async function rotateSecret(
  db: Database,
  cipher: SecretCipher,
  plugin: PluginRef,
  graceMs: number,
  secret = generateSecret(),
): Promise<Rotated> {
  return inTransaction(db, async (trx) => {
    // one rotation of a plugin at a time: the second sees the first's new secret as the one it replaces
    await trx.selectFrom('plugins').select('id').where('id', '=', plugin.id).forUpdate().execute()
    const previous = await trx
      .updateTable('plugin_secrets')
      // double precision, not integer: a grace beyond 2^31 ms (~24.8 days) must not fail the rotation
      .set({ expires_at: sql`now() + ${graceMs}::double precision * interval '1 millisecond'` })
      .where('plugin_id', '=', plugin.id)
      .where('expires_at', 'is', null)
      .returning('expires_at')
      .executeTakeFirst()
    await trx
      .insertInto('plugin_secrets')
      .values({ tenant_id: plugin.tenant_id, plugin_id: plugin.id, ciphertext: cipher.encrypt(secret, secretContext(plugin.id)) })
      .execute()
    await sql`
      delete from plugin_secrets
       where plugin_id = ${plugin.id}
         and (expires_at <= now()
              or id not in (select id
                              from plugin_secrets
                             where plugin_id = ${plugin.id} and (expires_at is null or expires_at > now())
                             order by id desc
                             limit ${MAX_SIGNING_SECRETS}))
    `.execute(trx)
    return { secret, previousExpiresAt: previous?.expires_at ?? null }
  })
}
