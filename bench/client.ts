import { loadConfig, type Config } from '../src/config.ts'
import { addressPolicy } from '../src/net/guard.ts'
import { USER_AGENT } from '../src/relay/headers.ts'
import { createWebhookClient, type WebhookClient } from '../src/relay/http-client.ts'

/**
 * The relay's HTTP client, built with the options src/relay/dispatcher.ts gives it
 * (timeout, response cap, user agent, keep-alive sockets = RELAY_CONCURRENCY, the
 * SSRF policy), from the same environment. The ceiling and the peer use it so
 * that the only difference between them and the relay is the relay itself.
 */
export function relayClient(config: Config = loadConfig()): WebhookClient {
  return createWebhookClient({
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    maxResponseBytes: config.WEBHOOK_MAX_RESPONSE_BYTES,
    userAgent: USER_AGENT,
    maxSockets: config.RELAY_CONCURRENCY,
    policy: addressPolicy(config),
  })
}
