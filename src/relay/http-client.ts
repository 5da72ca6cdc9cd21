import http from 'node:http'
import https from 'node:https'
import { performance } from 'node:perf_hooks'
import { got, type Got } from 'got'
import { BLOCKED_ADDRESS, blockedError, guardedLookup, webhookUrlProblem, type AddressPolicy, type Resolver } from '../net/guard.ts'

export interface Outcome {
  ok: boolean
  statusCode: number | null
  /** why it failed: the transport error, or the status line and a bit of the response */
  error: string | null
  durationMs: number
  /** a 429's or 503's Retry-After, in milliseconds */
  retryAfterMs?: number
}

/** RFC 9110 §5.6.7's IMF-fixdate, the one HTTP-date form a sender may generate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/

/**
 * Retry-After is either delay-seconds (digits only) or a future HTTP date (RFC 9110
 * §10.2.3). Anything else is ignored (undefined), never read as "retry now":
 * `Date.parse` would take "-1", "1.5" or "0x10" as dates, and a date in the past
 * says nothing about when to come back. The caller floors and caps the result.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  const text = value?.trim()
  if (!text || text.length > 64) return undefined
  if (/^\d+$/.test(text)) return Number(text) * 1000
  if (!IMF_FIXDATE.test(text)) return undefined
  const at = Date.parse(text)
  return Number.isNaN(at) || at <= now ? undefined : at - now
}

export interface WebhookClientOptions {
  timeoutMs: number
  maxResponseBytes: number
  userAgent: string
  /** keep-alive sockets per host, sized to the relay's concurrency */
  maxSockets: number
  /** the SSRF guard's policy, applied to the URL and to every address connected to */
  policy: AddressPolicy
  /** name resolution for the guard; tests pass a stub */
  resolve?: Resolver
}

export interface WebhookClient {
  post(url: string, headers: Record<string, string>, body: string, signal?: AbortSignal): Promise<Outcome>
  close(): void
}

const ERROR_EXCERPT_BYTES = 512

/**
 * The one module that speaks HTTP to receivers. One pre-built got instance: no
 * retries (the outbox retries), no redirects (a 3xx is a failure: following one
 * would send the payload somewhere the plugin did not register), no decompression,
 * and at most `maxResponseBytes` of a response read.
 */
export function createWebhookClient(options: WebhookClientOptions): WebhookClient {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets,
    maxFreeSockets: options.maxSockets,
    // the socket connects to the addresses this lookup checked, never to a second answer
    lookup: guardedLookup(options.policy, options.resolve),
  }
  const agent = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) }
  const client: Got = got.extend({
    timeout: { request: options.timeoutMs },
    retry: { limit: 0 },
    followRedirect: false,
    throwHttpErrors: false,
    decompress: false,
    agent,
    headers: { 'user-agent': options.userAgent, 'content-type': 'application/json' },
  })

  async function post(url: string, headers: Record<string, string>, body: string, signal?: AbortSignal): Promise<Outcome> {
    const started = performance.now()
    const elapsed = () => Math.round(performance.now() - started)
    // the URL may predate the policy; a literal IP host gets no lookup, so it is checked here
    const problem = webhookUrlProblem(url, options.policy)
    if (problem) return { ok: false, statusCode: null, error: blockedError(problem).message, durationMs: elapsed() }
    const stream = client.stream.post(url, { headers, body, signal })
    try {
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
        stream.once('response', resolve)
        stream.once('error', reject)
      })
      const statusCode = response.statusCode ?? 0
      const excerpt: Buffer[] = []
      let read = 0
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (read < ERROR_EXCERPT_BYTES) excerpt.push(chunk)
        read += chunk.length
        // a receiver that streams without end must not hold a delivery slot or memory
        if (read >= options.maxResponseBytes) break
      }
      const ok = statusCode >= 200 && statusCode < 300
      const text = Buffer.concat(excerpt).subarray(0, ERROR_EXCERPT_BYTES).toString('utf8').trim()
      const retryAfterMs = statusCode === 429 || statusCode === 503 ? parseRetryAfter(response.headers['retry-after']) : undefined
      return {
        ok,
        statusCode,
        error: ok ? null : `HTTP ${statusCode}${text ? `: ${text}` : ''}`,
        durationMs: elapsed(),
        ...(retryAfterMs !== undefined && { retryAfterMs }),
      }
    } catch (error) {
      const e = error as { code?: string; message?: string; response?: { statusCode?: number } }
      return {
        ok: false,
        statusCode: e.response?.statusCode ?? null,
        error: describe(e),
        durationMs: elapsed(),
      }
    } finally {
      if (!stream.destroyed) stream.destroy()
    }
  }

  return {
    post,
    close() {
      agent.http.destroy()
      agent.https.destroy()
    },
  }
}

function describe(error: { code?: string; message?: string; name?: string }): string {
  if (error.name === 'AbortError' || error.code === 'ERR_ABORTED') return 'aborted: the relay shut down mid-delivery'
  if (error.name === 'TimeoutError' || error.code === 'ETIMEDOUT') return `timeout: ${error.message ?? ''}`.trim()
  const message = error.message ?? String(error)
  if (error.code === BLOCKED_ADDRESS) return message
  return error.code && !message.includes(error.code) ? `${error.code}: ${message}` : message
}
