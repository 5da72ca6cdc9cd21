import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * The secrets of the app platform. Each is 32 random bytes behind a prefix that
 * secret scanners can match; like API keys, only their sha256 is stored (256 bits
 * leave nothing to brute-force, so a fast hash is enough).
 */
const KINDS = {
  /** a developer's key (bin/admin developers create) */
  developer: 'bcs_dev_',
  /** an app's client secret, with its client_id for HTTP Basic */
  clientSecret: 'bcs_cs_',
  /** an installation access token: one store, one hour */
  accessToken: 'bcs_iat_',
} as const
type Kind = keyof typeof KINDS

export const generateCredential = (kind: Kind): string => KINDS[kind] + randomBytes(32).toString('base64url')

/** Cheap check before any database work: anything else cannot be one we issued. */
export const isCredential = (kind: Kind, value: string): boolean =>
  value.length === KINDS[kind].length + 43 && value.startsWith(KINDS[kind]) && /^[A-Za-z0-9_-]{43}$/.test(value.slice(KINDS[kind].length))

export const hashCredential = (value: string): string => createHash('sha256').update(value).digest('hex')

/** The first characters, kept in clear so an operator can tell credentials apart. */
export const credentialPrefix = (value: string): string => value.slice(0, 14)

/** A public client id: `app_` + 20 hex characters. */
export const generateClientId = (): string => `app_${randomBytes(10).toString('hex')}`

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === y.length && timingSafeEqual(x, y)
}
