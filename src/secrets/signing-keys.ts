import type { Database } from '../db/database.ts'
import { parseSecret } from '../webhooks/signature.ts'
import type { SecretCipher } from './cipher.ts'
import { ensureSecret, secretContext, signingCiphertexts } from './secret.repository.ts'

/** Plugins whose keys are kept decrypted; beyond this the longest-cached are dropped (and decrypted again on need). */
const MAX_CACHED_PLUGINS = 10_000

interface Entry {
  ciphertexts: string
  keys: Buffer[]
}

/**
 * The HMAC keys a plugin's deliveries are signed with, decrypted once and reused.
 * The claim brings each delivery's stored ciphertexts along, so the cache needs no
 * clock and no invalidation: a rotation or an expiry changes the text the claim
 * returns, and a changed text is decrypted afresh. The hot path costs one map
 * lookup and one string comparison.
 */
export class SigningKeys {
  private readonly cache = new Map<string, Entry>()
  private readonly creating = new Map<string, Promise<string>>()

  constructor(
    private readonly db: Database,
    private readonly cipher: SecretCipher,
  ) {}

  /**
   * Keys for `ciphertexts` (space-separated, newest first, as the claim returns
   * them) of plugin `pluginId`. A plugin without any gets its first secret here:
   * a webhook is never sent unsigned.
   * Throws SecretDecryptionError when SECRETS_KEY cannot read them.
   */
  async keysFor(pluginId: string, ciphertexts: string): Promise<Buffer[]> {
    const stored = ciphertexts !== '' ? ciphertexts : await this.create(pluginId)
    const hit = this.cache.get(pluginId)
    if (hit?.ciphertexts === stored) return hit.keys
    const keys = stored.split(' ').map((c) => parseSecret(this.cipher.decrypt(c, secretContext(pluginId))))
    this.cache.delete(pluginId)
    this.cache.set(pluginId, { ciphertexts: stored, keys })
    if (this.cache.size > MAX_CACHED_PLUGINS) this.cache.delete(this.cache.keys().next().value as string)
    return keys
  }

  private create(pluginId: string): Promise<string> {
    // a backlog of one secretless plugin claimed at once creates its secret once
    let pending = this.creating.get(pluginId)
    if (!pending) {
      pending = ensureSecret(this.db, this.cipher, pluginId)
        .then(() => signingCiphertexts(this.db, pluginId))
        .finally(() => this.creating.delete(pluginId))
      this.creating.set(pluginId, pending)
    }
    return pending
  }
}
