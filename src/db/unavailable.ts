/**
 * Whether an error means "the database is not there right now" (down, restarting,
 * failing over, unreachable): worth retrying, and a 503 to a client. Anything
 * else (bad credentials, a missing database, a failed migration, a bug) is not
 * cured by waiting.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown }
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)) return true
  }
  return false
}

const UNAVAILABLE_CODES = new Set([
  // the network: nothing listens (yet), the connection was cut, the host is away
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  // a managed database's name does not resolve while it fails over
  'ENOTFOUND',
  'EAI_AGAIN',
  // SQLSTATE class 08 (connection exception) is matched by prefix; these are class 57 and 53
  '57P01', // admin_shutdown: terminating connection due to administrator command
  '57P02', // crash_shutdown: terminating connection because of crash of another server process
  '57P03', // cannot_connect_now: the database system is starting up / in recovery mode / shutting down
  '53300', // too_many_connections: every slot taken while clients reconnect at once
])

// node-postgres's own errors carry no code
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Query read timeout|connect ECONNREFUSED/i
