// Receiver SDK for plugin authors: `bettercallsold-plugins-sdk/receiver` (sdk/package.json).
//
// Verifies Standard Webhooks signatures (https://www.standardwebhooks.com/)
// on deliveries from BetterCallSold. Published on its own, so it depends on
// node built-ins only and deliberately re-implements the HMAC rather than
// sharing code with the sender: two implementations that must agree (and a
// third, the `standardwebhooks` package, in the tests) catch signing bugs a
// shared helper would hide. Erasable TypeScript only, so the file can also run
// under Node's type stripping.

import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto'
import type { AppLifecycleEventName, EventDataMap } from './events.ts'

// The data type of every event in the catalog, generated from the server's own
// schemas (src/events/catalog.ts); types only, erased at runtime.
export type * from './events.ts'

/** The JSON body of every delivery. */
export interface WebhookEnvelope<TType extends string = string, TData = unknown> {
  id?: string
  event: TType
  tenant_id: string
  timestamp: string
  data: TData
}

/** Any delivery, whatever its event; `data` is `unknown`. */
export type WebhookEvent = WebhookEnvelope

/**
 * Turns a map of event name → data type into a union of envelopes
 * discriminated on `event`:
 * `verifyWebhook<WebhookEventOf<{ 'order.created': Order }>>(…)`.
 */
export type WebhookEventOf<M extends Record<string, unknown>> = {
  [K in keyof M & string]: WebhookEnvelope<K, M[K]>
}[keyof M & string]

/** The name of every event type BetterCallSold sends. */
export type EventName = keyof EventDataMap

/**
 * Every event BetterCallSold sends, discriminated on `event`: what `verifyWebhook`
 * returns by default. `switch (event.event)` narrows `data` to that event's type.
 * Handle a `default` too: a newer server may send an event this version does not know.
 */
export type BetterCallSoldEvent = WebhookEventOf<EventDataMap>

/** The envelope of one event type: `EventOf<'product.created'>`. */
export type EventOf<N extends EventName> = WebhookEnvelope<N, EventDataMap[N]>

/** `app.installed`, `app.config_updated`, `app.permissions_updated` or `app.uninstalled`, discriminated on `event`. */
export type AppLifecycleEvent = WebhookEventOf<Pick<EventDataMap, AppLifecycleEventName>>

/**
 * Whether a verified delivery is one of the app lifecycle events, narrowing it:
 * `if (isAppLifecycleEvent(event)) switch (event.event) { case 'app.installed': … }`.
 * Every lifecycle event's name starts with `app.` and no other's does (the catalog reserves the family).
 */
export function isAppLifecycleEvent(event: { event: string }): event is AppLifecycleEvent {
  return event.event.startsWith('app.')
}

export type WebhookVerificationReason =
  | 'missing_header'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_matching_signature'
  | 'invalid_secret'
  | 'malformed_body'

/** Base class: catch this, log `reason`, answer 400 (401 for signatures if you prefer). */
export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError'
  readonly reason: WebhookVerificationReason
  constructor(reason: WebhookVerificationReason, message: string) {
    super(message)
    this.reason = reason
  }
}

export class WebhookHeaderError extends WebhookVerificationError {
  override name = 'WebhookHeaderError'
  readonly header: string
  constructor(header: string) {
    super('missing_header', `missing ${header} header`)
    this.header = header
  }
}

export class WebhookTimestampError extends WebhookVerificationError {
  override name = 'WebhookTimestampError'
}

export class WebhookSignatureError extends WebhookVerificationError {
  override name = 'WebhookSignatureError'
}

/** Your configured secret is unusable; a configuration bug, not a bad request. */
export class WebhookSecretError extends WebhookVerificationError {
  override name = 'WebhookSecretError'
}

export class WebhookBodyError extends WebhookVerificationError {
  override name = 'WebhookBodyError'
}

export type WebhookHeaders = Record<string, string | string[] | undefined> | Headers

export interface VerifyWebhookOptions {
  /** Maximum clock difference accepted, either way. Default 300 (5 minutes). */
  toleranceSeconds?: number
  /** Current time; defaults to the system clock. */
  now?: Date
}

const SECRET_PREFIX = 'whsec_'
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * Verifies a delivery and returns its parsed JSON body, typed as a
 * `BetterCallSoldEvent` unless you name another type (not checked at runtime).
 *
 * `rawBody` must be the bytes exactly as received: re-serialising parsed JSON
 * changes them and the signature no longer matches. Pass several secrets while
 * rotating; a message signed with any of them is accepted.
 *
 * Throws a `WebhookVerificationError` subclass whose `reason` says why.
 */
export function verifyWebhook<E = BetterCallSoldEvent>(
  secretOrSecrets: string | readonly string[],
  headers: WebhookHeaders,
  rawBody: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): E {
  // Secrets first: a misconfigured receiver should say so on every request,
  // not only on the ones that happen to carry good headers.
  const keys = (typeof secretOrSecrets === 'string' ? [secretOrSecrets] : secretOrSecrets).map(parseSecret)
  if (keys.length === 0) throw new WebhookSecretError('invalid_secret', 'no webhook secret configured')
  if (typeof rawBody !== 'string' && !(rawBody instanceof Uint8Array)) {
    throw new TypeError('rawBody must be the raw request body (string or Buffer), not parsed JSON')
  }

  const id = header(headers, 'webhook-id')
  const timestamp = header(headers, 'webhook-timestamp')
  const signatures = header(headers, 'webhook-signature')

  // Digits only: parseInt would accept "123abc" and sign over the wrong text.
  if (!/^\d{1,15}$/.test(timestamp)) {
    throw new WebhookTimestampError('invalid_timestamp', `webhook-timestamp is not unix seconds: ${JSON.stringify(timestamp)}`)
  }
  // The timestamp is signed, so checking it bounds how long a captured
  // request can be replayed.
  const tolerance = options.toleranceSeconds ?? 300
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000)
  const sent = Number(timestamp)
  if (now - sent > tolerance) {
    throw new WebhookTimestampError('timestamp_too_old', `webhook-timestamp is ${now - sent}s old (tolerance ${tolerance}s)`)
  }
  if (sent - now > tolerance) {
    throw new WebhookTimestampError('timestamp_too_new', `webhook-timestamp is ${sent - now}s in the future (tolerance ${tolerance}s)`)
  }

  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength)
  const candidates = signatures
    .split(' ')
    // A header repeated on the wire reaches us joined with ", " by node and
    // fetch; base64 never ends in a comma, so dropping one is safe.
    .map((s) => s.replace(/,$/, ''))
    // Other versions (e.g. asymmetric v1a) are skipped, not errors: a sender
    // may add them alongside v1.
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3)))
  let matched = false
  for (const key of keys) {
    const expected = Buffer.from(createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64'))
    for (const candidate of candidates) {
      // timingSafeEqual needs equal lengths; the length of a base64 digest is
      // public, so checking it first leaks nothing.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true
    }
  }
  if (!matched) throw new WebhookSignatureError('no_matching_signature', 'no webhook-signature matches any configured secret')

  // Parsed only once authenticated: unsigned input never reaches JSON.parse.
  let event: unknown
  try {
    event = JSON.parse(body.toString('utf8'))
  } catch {
    throw new WebhookBodyError('malformed_body', 'webhook body is not valid JSON')
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new WebhookBodyError('malformed_body', 'webhook body is not a JSON object')
  }
  return event as E
}

function parseSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret
  if (!BASE64.test(encoded) || encoded.replace(/=+$/, '').length % 4 === 1) {
    throw new WebhookSecretError('invalid_secret', 'webhook secret is not valid base64 (expected whsec_<base64>)')
  }
  const key = Buffer.from(encoded, 'base64')
  // BetterCallSold secrets are 32 bytes; the 24–64 range of the spec catches
  // a truncated copy/paste here instead of as a baffling signature mismatch.
  if (key.length < 24 || key.length > 64) {
    throw new WebhookSecretError('invalid_secret', `webhook secret key must be 24-64 bytes, got ${key.length} (truncated when copied?)`)
  }
  return key
}

/** Case-insensitive lookup that works for node's IncomingHttpHeaders, plain objects and fetch Headers. */
function header(headers: WebhookHeaders, name: string): string {
  let value: string | string[] | null | undefined
  if (typeof (headers as Headers).get === 'function') {
    value = (headers as Headers).get(name)
  } else {
    const record = headers as Record<string, string | string[] | undefined>
    value = record[name]
    if (value === undefined) {
      for (const key of Object.keys(record)) if (key.toLowerCase() === name) value = record[key]
    }
  }
  // A repeated signature header is several signatures; for the others only
  // one value can be right and it is covered by the signature anyway.
  if (Array.isArray(value)) value = name === 'webhook-signature' ? value.join(' ') : value[0]
  if (!value) throw new WebhookHeaderError(name)
  return value
}

/**
 * Opens a sealed config value of an app installation (`bcs_enc_v1:…`, the
 * `writeOnly` values of `app.installed` and `app.config_updated`) with the app's
 * signing secret. They are sealed so that the store's events log, which shows
 * event bodies, never shows them. Throws when the value was not sealed for this secret.
 */
export function openSealedValue(signingSecret: string, sealed: string): unknown {
  const prefix = 'bcs_enc_v1:'
  if (!sealed.startsWith(prefix)) throw new Error('not a sealed value (expected bcs_enc_v1:…)')
  const secret = Buffer.from(signingSecret.startsWith('whsec_') ? signingSecret.slice(6) : signingSecret, 'base64')
  const key = createHmac('sha256', secret).update('bcs-sealed-config-v1').digest()
  const raw = Buffer.from(sealed.slice(prefix.length), 'base64url')
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
  decipher.setAuthTag(raw.subarray(12, 28))
  return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'))
}
