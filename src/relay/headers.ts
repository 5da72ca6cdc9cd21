import { version } from '../version.ts'
import { sign, type SigningKey } from '../webhooks/signature.ts'

export const USER_AGENT = `BetterCallSold-Webhooks/${version} (+https://bettercallsold.com/plugins)`

/** The id a receiver dedupes on: one per delivery, the same on every retry. */
export const webhookId = (deliveryId: number): string => `dlv_${deliveryId}`

/** Headers of one attempt (content-type and user-agent are set once on the client). */
export function webhookHeaders(deliveryId: number, eventType: string, now = Date.now()): Record<string, string> {
  return {
    'webhook-id': webhookId(deliveryId),
    'webhook-timestamp': String(Math.floor(now / 1000)),
    'x-bettercallsold-event': eventType,
  }
}

/**
 * Headers of one attempt, signed (Standard Webhooks) over `body`, the exact bytes
 * sent, with every key given: several during a rotation, one signature each.
 */
export function signedWebhookHeaders(
  deliveryId: number,
  eventType: string,
  keys: readonly SigningKey[],
  body: string,
  now = Date.now(),
): Record<string, string> {
  const headers = webhookHeaders(deliveryId, eventType, now)
  headers['webhook-signature'] = sign(keys, webhookId(deliveryId), Math.floor(now / 1000), body)
  return headers
}
