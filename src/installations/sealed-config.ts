import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import { parseSecret } from '../webhooks/signature.ts'

/**
 * writeOnly config values (a store's API key for the app's own service, say) are
 * stored encrypted under SECRETS_KEY like signing secrets, and travel to the app
 * sealed with a key only the app can derive: HMAC-SHA256(signing secret key,
 * "bcs-sealed-config-v1"), AES-256-GCM. So the event body, which the store's
 * events log shows, carries ciphertext only; the app opens it with the receiver
 * SDK's openSealedValue (src/receiver/index.ts).
 */
export const SEALED_PREFIX = 'bcs_enc_v1:'
const CONTEXT = 'bcs-sealed-config-v1'

export const sealingKey = (signingSecret: string): Buffer => createHmac('sha256', parseSecret(signingSecret)).update(CONTEXT).digest()

export function seal(signingSecret: string, value: unknown): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', sealingKey(signingSecret), iv)
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()])
  return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')
}

/** The inverse of seal (the receiver SDK has its own copy, for apps). */
export function unseal(signingSecret: string, sealed: string): unknown {
  const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url')
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(signingSecret), raw.subarray(0, 12))
  decipher.setAuthTag(raw.subarray(12, 28))
  return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'))
}
