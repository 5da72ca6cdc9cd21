import { createHash, randomBytes } from 'node:crypto'

/**
 * An API key is `bcs_live_` + 32 random bytes in base64url: recognisable in a
 * leaked paste (secret scanners match the prefix), 256 bits of entropy, so its
 * sha256 is all the server needs to keep.
 */
export const KEY_PREFIX = 'bcs_live_'
const KEY_PATTERN = /^bcs_live_[A-Za-z0-9_-]{43}$/
/** characters of a key kept in clear, to tell keys apart in a list */
const SHOWN_CHARS = KEY_PREFIX.length + 6

export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url')
}

/** Cheap check before any database work: anything else cannot be one of our keys. */
export function isWellFormedKey(key: string): boolean {
  return KEY_PATTERN.test(key)
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

export function keyPrefix(key: string): string {
  return key.slice(0, SHOWN_CHARS)
}
