// Standard Webhooks signing (https://www.standardwebhooks.com/).
//
// The signed content is `{webhook-id}.{webhook-timestamp}.{body}` and the
// signature is HMAC-SHA256 keyed with the base64-decoded part of a `whsec_`
// secret. Receivers verify with our SDK (src/receiver) or any Standard
// Webhooks library, so nothing here may deviate from the spec.

import { createHmac, randomBytes } from 'node:crypto'

const SECRET_PREFIX = 'whsec_'
// The spec says keys SHOULD be 24–64 bytes; shorter is weak, and anything
// outside that range is far more likely a copy/paste accident than intent.
const MIN_KEY_BYTES = 24
const MAX_KEY_BYTES = 64
// Standard alphabet, padding optional (some generators strip it).
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

export class InvalidSecretError extends Error {
  override name = 'InvalidSecretError'
}

/** A `whsec_…` secret, or a key already decoded by `parseSecret`. */
export type SigningKey = string | Buffer

// A type alias, not an interface, so it stays assignable to header records
// (Record<string, string>, fetch's HeadersInit, got's Headers).
export type SignatureHeaders = {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

/** A fresh secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64')
}

/** Decodes a secret (with or without the `whsec_` prefix) to its HMAC key. */
export function parseSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret
  // Buffer.from(…, 'base64') silently skips invalid characters, so validate
  // first: a mangled secret must fail loudly, not sign with a different key.
  const unpadded = encoded.replace(/=+$/, '')
  if (!BASE64.test(encoded) || unpadded.length % 4 === 1) {
    throw new InvalidSecretError('webhook secret is not valid base64 (expected whsec_<base64>)')
  }
  const key = Buffer.from(encoded, 'base64')
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new InvalidSecretError(
      `webhook secret key must be ${MIN_KEY_BYTES}-${MAX_KEY_BYTES} bytes, got ${key.length}`,
    )
  }
  return key
}

/**
 * The `webhook-signature` header value: `v1,<base64 HMAC-SHA256>` per key,
 * space-separated, so receivers holding either the old or the new secret
 * accept the message while a secret is being rotated.
 *
 * This runs for every delivery: pass keys pre-parsed with `parseSecret` to
 * skip decoding, and the body as the exact bytes that will be sent.
 */
export function sign(
  keys: SigningKey | readonly SigningKey[],
  msgId: string,
  timestampSeconds: number,
  body: string | Buffer,
): string {
  const list = Array.isArray(keys) ? keys : [keys as SigningKey]
  if (list.length === 0) throw new InvalidSecretError('at least one webhook secret is required')
  // A fractional or millisecond timestamp signs fine but never verifies
  // (receivers reject it as out of tolerance); 1e11 s is the year 5138.
  if (!Number.isInteger(timestampSeconds) || timestampSeconds < 0 || timestampSeconds >= 1e11) {
    throw new RangeError(`webhook timestamp must be unix seconds, got ${timestampSeconds}`)
  }
  const prefix = `${msgId}.${timestampSeconds}.`
  let header = ''
  for (const key of list) {
    const hmac = createHmac('sha256', typeof key === 'string' ? parseSecret(key) : key)
    // Two updates instead of concatenating: the body can be large.
    const digest = hmac.update(prefix).update(body).digest('base64')
    header += (header === '' ? 'v1,' : ' v1,') + digest
  }
  return header
}

/** The three Standard Webhooks headers for one delivery attempt. */
export function signatureHeaders(
  keys: SigningKey | readonly SigningKey[],
  msgId: string,
  timestampSeconds: number,
  body: string | Buffer,
): SignatureHeaders {
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': sign(keys, msgId, timestampSeconds, body),
  }
}
