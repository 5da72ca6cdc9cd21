// Encryption at rest for plugin secrets (AES-256-GCM).
//
// Webhook secrets must be recoverable (we sign with them), so they are
// encrypted rather than hashed. GCM authenticates the ciphertext, which is
// what lets a wrong key or an altered row fail loudly instead of decrypting
// to garbage that would then sign every delivery wrongly.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const ALGORITHM = 'aes-256-gcm'
const KEY_BYTES = 32
const IV_BYTES = 12 // the GCM standard nonce size
const TAG_BYTES = 16
// The version prefix leaves room to change algorithm or add key ids later
// without guessing at the format of rows already stored.
// v1: no associated data (rows written before ciphertexts were bound).
// v2: the context (the plugin it belongs to) is authenticated as associated data,
// so a ciphertext moved to another row fails to decrypt instead of being served.
const VERSION = 'v1'
const BOUND_VERSION = 'v2'
const KEY_FILE = 'secrets.key'
const KEY_HINT = 'generate one with: openssl rand -base64 32'

/** The stored value cannot be decrypted: wrong key, altered or unknown format. */
export class SecretDecryptionError extends Error {
  override name = 'SecretDecryptionError'
}

/** SECRETS_KEY (or the dev key file) is missing or malformed. */
export class SecretsKeyError extends Error {
  override name = 'SecretsKeyError'
}

export interface SecretCipher {
  /**
   * Returns `v2:<iv b64>:<tag b64>:<ciphertext b64>` bound to `context` (its
   * associated data), or `v1:…` unbound when no context is given.
   */
  encrypt(plain: string, context?: string): string
  /** A v2 value decrypts only with the context it was bound to; a v1 value with any. */
  decrypt(stored: string, context?: string): string
}

/** Whether a stored value predates binding (v1): such rows are re-encrypted bound (see secret-binding.ts). */
export const isUnbound = (stored: string): boolean => stored.startsWith(`${VERSION}:`)

export function createCipher(key: Buffer): SecretCipher {
  if (key.length !== KEY_BYTES) {
    throw new SecretsKeyError(`SECRETS_KEY must be ${KEY_BYTES} bytes, got ${key.length}`)
  }
  // Copy so a caller reusing or zeroing its buffer cannot change our key.
  const k = Buffer.from(key)

  return {
    encrypt(plain, context) {
      // A fresh random nonce per value: reusing one under GCM leaks plaintext.
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv(ALGORITHM, k, iv)
      if (context !== undefined) cipher.setAAD(Buffer.from(context, 'utf8'))
      const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      const tag = cipher.getAuthTag()
      const version = context === undefined ? VERSION : BOUND_VERSION
      return [version, iv.toString('base64'), tag.toString('base64'), ciphertext.toString('base64')].join(':')
    },

    decrypt(stored, context) {
      const parts = stored.split(':')
      if (parts.length !== 4 || (parts[0] !== VERSION && parts[0] !== BOUND_VERSION)) {
        throw new SecretDecryptionError(`stored secret is not in a known format (expected ${BOUND_VERSION}:<iv>:<tag>:<ciphertext>)`)
      }
      const bound = parts[0] === BOUND_VERSION
      if (bound && context === undefined) throw new SecretDecryptionError('stored secret is bound to a plugin, and none was named')
      const iv = Buffer.from(parts[1] ?? '', 'base64')
      const tag = Buffer.from(parts[2] ?? '', 'base64')
      const ciphertext = Buffer.from(parts[3] ?? '', 'base64')
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
        throw new SecretDecryptionError('stored secret is malformed (bad iv or tag length)')
      }
      try {
        const decipher = createDecipheriv(ALGORITHM, k, iv, { authTagLength: TAG_BYTES })
        decipher.setAuthTag(tag)
        if (bound) decipher.setAAD(Buffer.from(context!, 'utf8'))
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8')
      } catch {
        // GCM cannot tell a wrong key from an altered row; the key is by far
        // the more common cause (a changed or lost SECRETS_KEY), so lead with it.
        throw new SecretDecryptionError(
          'secrets cannot be decrypted with this SECRETS_KEY (it differs from the key they were encrypted with, ' +
            'or the stored value was altered or moved from another plugin)',
        )
      }
    },
  }
}

export interface LoadSecretsKeyOptions {
  /** Value of SECRETS_KEY; empty or undefined means "not set". */
  secretsKey?: string | undefined
  dataDir: string
  production: boolean
}

/**
 * Resolves the key that encrypts plugin secrets.
 *
 * Production requires SECRETS_KEY: a key generated on the fly would live on
 * one disk only and its loss would make every stored secret unreadable.
 * Development falls back to `<dataDir>/secrets.key`, created once, so a fresh
 * checkout works without setup and restarts keep decrypting.
 */
export async function loadSecretsKey(options: LoadSecretsKeyOptions): Promise<Buffer> {
  const configured = options.secretsKey?.trim()
  if (configured) {
    const key = decodeKey(configured)
    if (!key) throw new SecretsKeyError(`SECRETS_KEY must be 32 bytes as base64 or 64 hex characters; ${KEY_HINT}`)
    return key
  }
  if (options.production) {
    throw new SecretsKeyError(`SECRETS_KEY is required when NODE_ENV=production; ${KEY_HINT}`)
  }

  const file = join(options.dataDir, KEY_FILE)
  await mkdir(options.dataDir, { recursive: true })
  const generated = randomBytes(KEY_BYTES)
  // Written aside then hard-linked into place: link() fails if the file
  // exists, so two processes starting together cannot each keep a different
  // key, and the loser never reads a half-written file.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(tmp, generated.toString('base64') + '\n', { mode: 0o600, flag: 'wx' })
    await link(tmp, file)
    return generated
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    await rm(tmp, { force: true })
  }
  const key = decodeKey((await readFile(file, 'utf8')).trim())
  // Never regenerate over a bad file: that would orphan every stored secret.
  if (!key) throw new SecretsKeyError(`${file} does not hold a valid SECRETS_KEY (32 bytes as base64 or hex)`)
  return key
}

/** 64 hex chars or base64 of exactly 32 bytes; undefined otherwise. */
function decodeKey(text: string): Buffer | undefined {
  // Hex first: 64 hex characters are also valid base64 (of 48 bytes).
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex')
  if (!/^[A-Za-z0-9+/]{43}=?$/.test(text)) return undefined
  const key = Buffer.from(text, 'base64')
  return key.length === KEY_BYTES ? key : undefined
}
