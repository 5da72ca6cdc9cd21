import type { Config } from '../config.ts'
import type { Database } from '../db/database.ts'
import { bindUnboundSecrets } from './secret-binding.ts'
import { secretContext } from './secret.repository.ts'
import { createCipher, loadSecretsKey, SecretDecryptionError, SecretsKeyError, type SecretCipher } from './cipher.ts'

/**
 * The cipher of plugin secrets, from SECRETS_KEY (or, outside production, the key
 * file generated once in DATA_DIR). Loaded once per process at start and passed
 * down, so a missing or malformed key stops the start instead of the first delivery.
 */
export async function loadSecretCipher(config: Pick<Config, 'SECRETS_KEY' | 'DATA_DIR' | 'NODE_ENV'>): Promise<SecretCipher> {
  const key = await loadSecretsKey({
    secretsKey: config.SECRETS_KEY,
    dataDir: config.DATA_DIR,
    production: config.NODE_ENV === 'production',
  })
  return createCipher(key)
}

/**
 * Refuses a key that cannot read the secrets already stored: with it, every
 * delivery would fail to sign. One row tells, since all were written with one key.
 * Then binds the secrets stored before ciphertexts were bound to their plugin.
 */
export async function checkSecretsKey(db: Database, cipher: SecretCipher): Promise<void> {
  const row = await db.selectFrom('plugin_secrets').select(['ciphertext', 'plugin_id']).orderBy('id', 'desc').limit(1).executeTakeFirst()
  if (!row) return
  try {
    cipher.decrypt(row.ciphertext, secretContext(row.plugin_id))
  } catch (error) {
    if (!(error instanceof SecretDecryptionError)) throw error
    throw new SecretsKeyError(
      'SECRETS_KEY cannot decrypt the plugin secrets stored in this database: it is not the key they were encrypted with. ' +
        'Start with that key (SECRETS_KEY, or DATA_DIR/secrets.key outside production); another key cannot recover them.',
    )
  }
  // the key reads them: secrets stored before binding (v1) are bound to their plugin now
  await bindUnboundSecrets(db, cipher)
}
