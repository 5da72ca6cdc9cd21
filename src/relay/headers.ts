import { version } from '../version.ts'

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
