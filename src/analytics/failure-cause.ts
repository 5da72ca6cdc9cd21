/**
 * Why an attempt failed, derived from what delivery_attempts already stores (the
 * status code and the error text src/relay/http-client.ts writes), so the relay
 * records nothing more. The order is the order of the `causes` counters in the
 * rollup tables (db/0013_analytics.sql): append only.
 */
export const FAILURE_CAUSES = ['timeout', 'connect', 'dns', 'tls', 'blocked', 'http_3xx', 'http_4xx', 'http_5xx', 'signing', 'other'] as const
export type FailureCause = (typeof FAILURE_CAUSES)[number]

export const causeIndex = (cause: FailureCause): number => FAILURE_CAUSES.indexOf(cause)

const DNS = /ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL|getaddrinfo/i
const TLS = /CERT_|SSL|TLS|certificate|self[- ]signed|ERR_TLS|EPROTO/i
const CONNECT = /ECONNREFUSED|ECONNRESET|EPIPE|EHOSTUNREACH|ENETUNREACH|EADDRNOTAVAIL|socket hang up|ECONNABORTED/i

export function failureCause(statusCode: number | null, error: string): FailureCause {
  if (statusCode !== null && statusCode >= 300 && statusCode < 600 && error.startsWith('HTTP ')) {
    return statusCode < 400 ? 'http_3xx' : statusCode < 500 ? 'http_4xx' : 'http_5xx'
  }
  if (error.startsWith('timeout')) return 'timeout'
  if (error.startsWith('blocked:')) return 'blocked'
  if (error.startsWith('not sent, cannot sign')) return 'signing'
  if (DNS.test(error)) return 'dns'
  if (TLS.test(error)) return 'tls'
  if (CONNECT.test(error)) return 'connect'
  if (statusCode !== null && statusCode >= 300) return statusCode < 400 ? 'http_3xx' : statusCode < 500 ? 'http_4xx' : 'http_5xx'
  return 'other'
}

export function causeCounts(causes: readonly number[]): Record<FailureCause, number> {
  return Object.fromEntries(FAILURE_CAUSES.map((c, i) => [c, causes[i] ?? 0])) as Record<FailureCause, number>
}
