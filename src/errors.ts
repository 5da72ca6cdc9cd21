import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isDatabaseUnavailable } from './db/unavailable.ts'
import { API_CSP, SECURITY_HEADERS } from './http/security-headers.ts'

/** A domain error: carries the HTTP status and the stable `code` clients branch on. */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** extra fields of the response body, e.g. the short items of an order */
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
    this.name = new.target.name
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super(404, 'NOT_FOUND', `${what} '${id}' not found`)
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string) {
    super(409, code, message)
  }
}

export class ValidationError extends AppError {
  constructor(code: string, message: string) {
    super(400, code, message)
  }
}

/** No usable credentials: the client should authenticate (RFC 9110 §15.5.2). */
export class UnauthorizedError extends AppError {
  constructor(code: 'MISSING_API_KEY' | 'INVALID_API_KEY', message: string) {
    super(401, code, message)
  }
}

export class ForbiddenError extends AppError {
  constructor(code: string, message: string) {
    super(403, code, message)
  }
}

/** A webhook URL the server must not send to (SSRF guard, src/net/guard.ts). */
export class UnsafeWebhookUrlError extends AppError {
  constructor(reason: string) {
    super(400, 'UNSAFE_WEBHOOK_URL', `webhook_url is refused: ${reason}`)
  }
}

export class UnavailableError extends AppError {
  constructor(message: string) {
    super(503, 'SERVICE_UNAVAILABLE', message)
  }
}

export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

// Postgres errors a client can provoke, or that mean the database is unreachable.
const PG_CLIENT_ERRORS: Record<string, [number, string]> = {
  '23505': [409, 'CONFLICT'], // unique violation
  '23514': [400, 'INVALID_INPUT'], // check violation
  '57P01': [503, 'SERVICE_UNAVAILABLE'], // admin shutdown
  '57P03': [503, 'SERVICE_UNAVAILABLE'], // cannot connect now
  '08006': [503, 'SERVICE_UNAVAILABLE'],
  '08001': [503, 'SERVICE_UNAVAILABLE'],
}

/**
 * SQLSTATE class 22, data exceptions: a value the database cannot take. Routes
 * validate before SQL, so each of these is a gap in validation — but it is the
 * client's value, so a 400 naming it, never a 500. What the database said stays
 * in the log: its text can quote internals.
 */
const PG_DATA_PROBLEMS: Record<string, string> = {
  '22001': 'is too long',
  '22003': 'is a number out of range',
  '22007': 'is not a date or time the database can read',
  '22008': 'is a date or time out of range',
  '22021': 'contains a character that cannot be stored',
  '22P02': 'is not valid for its type',
  '22P05': 'contains a character that cannot be stored',
  '2201B': 'is not a valid regular expression',
  '22023': 'is not a valid value',
}
const isPgDataError = (code: string | undefined): code is string => code !== undefined && /^22[0-9A-Z]{3}$/.test(code)

/** The request field holding the value a database error quotes ("…: \"0000-01-01T00:00:00Z\""), if one does. */
function fieldQuoted(message: string, request: FastifyRequest | undefined): string | undefined {
  if (!request) return undefined
  const quoted = [...message.matchAll(/"([^"]{1,500})"/g)].map((m) => m[1]!)
  if (quoted.length === 0) return undefined
  const parts: [string, unknown][] = [['', request.params], ['', request.query], ['', request.body]]
  const stack = [...parts]
  while (stack.length > 0) {
    const [path, value] = stack.pop()!
    if ((typeof value === 'string' || typeof value === 'number') && path && quoted.includes(String(value))) return path
    if (Array.isArray(value)) value.forEach((v, i) => stack.push([`${path}[${i}]`, v]))
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) stack.push([path ? `${path}.${k}` : k, v])
  }
  return undefined
}

interface Classified {
  statusCode: number
  code: string
  message: string
  details?: Record<string, unknown>
}

function classify(error: FastifyError & { code?: string }, request?: FastifyRequest): Classified {
  if (error instanceof AppError) return { statusCode: error.statusCode, code: error.code, message: error.message, details: error.details }
  if (error.validation) {
    return { statusCode: 400, code: 'VALIDATION_ERROR', message: error.message }
  }
  if (isPgDataError(error.code)) {
    const problem = PG_DATA_PROBLEMS[error.code] ?? 'is not a value the database accepts'
    const field = fieldQuoted(error.message, request)
    return {
      statusCode: 400,
      code: 'INVALID_INPUT',
      message: field ? `${field} ${problem}` : `A value in the request ${problem}`,
      ...(field && { details: { details: [{ field, problem }] } }),
    }
  }
  const pg = error.code ? PG_CLIENT_ERRORS[error.code] : undefined
  if (pg) {
    const [statusCode, code] = pg
    return { statusCode, code, message: statusCode === 503 ? 'The database is unavailable; try again shortly' : 'Invalid input' }
  }
  if (isDatabaseUnavailable(error)) {
    return { statusCode: 503, code: 'SERVICE_UNAVAILABLE', message: 'The database is unavailable; try again shortly' }
  }
  // Fastify's own client errors (malformed JSON, body too large, wrong content type, ...)
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return { statusCode: error.statusCode, code: error.code ?? 'BAD_REQUEST', message: error.message }
  }
  return { statusCode: 500, code: 'INTERNAL_ERROR', message: 'Internal Server Error' }
}

function sendError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const { statusCode, code, message, details } = classify(error, request)
  if (statusCode >= 500) request.log.error({ err: error }, 'request failed')
  // a data error reaching SQL is a gap in validation: answered as a 400, and seen in the log
  else if (isPgDataError((error as { code?: string }).code)) request.log.warn({ err: error }, 'a database data error reached the client as 400')
  if (statusCode === 503) reply.header('retry-after', '5')
  // the four fields first and never overwritten by details
  return reply.status(statusCode).send({ statusCode, error: STATUS_TEXT[statusCode] ?? 'Error', message, code, ...omitShape(details) })
}

function omitShape(details: Record<string, unknown> | undefined): Record<string, unknown> {
  const { statusCode: _s, error: _e, message: _m, code: _c, ...rest } = details ?? {}
  return rest
}

/** `/api/plugins/:slug` → a matcher for concrete paths, as the router reads them (a parameter is one segment). */
function pathMatcher(url: string): RegExp {
  const pattern = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/')
  return new RegExp(`^${pattern}/?$`)
}

/**
 * The one place errors become HTTP responses: `{ statusCode, error, message, code }`,
 * plus `details` where there is more to say (which fields, what they allow).
 * The text of a 5xx never reaches the client; it goes to the log. Errors the
 * router raises before any route runs (a malformed or over-long URL) and
 * requests no route answers come here too: a path that exists with another
 * method is a 405 with `Allow`, any other a 404.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  const routes: { matches: RegExp; methods: Set<string> }[] = []
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const url = route.url ?? route.path
    let entry = routes.find((r) => r.matches.source === pathMatcher(url).source)
    if (!entry) routes.push((entry = { matches: pathMatcher(url), methods: new Set() }))
    for (const method of methods) entry.methods.add(method)
  })

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply))
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!
    const allowed = new Set(routes.filter((r) => r.matches.test(path)).flatMap((r) => [...r.methods]))
    if (allowed.size > 0 && !allowed.has(request.method)) {
      const allow = [...allowed].sort().join(', ')
      return reply
        .status(405)
        .header('allow', allow)
        .send({
          statusCode: 405,
          error: 'Method Not Allowed',
          message: `${request.method} is not allowed on ${path}; allowed: ${allow}`,
          code: 'METHOD_NOT_ALLOWED',
        })
    }
    return reply.status(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `Route ${request.method} ${path} not found`,
      code: 'ROUTE_NOT_FOUND',
    })
  })
}

/**
 * Fastify's `frameworkErrors`: what the router refuses before any route runs (a
 * URL that does not decode, a parameter over maxParamLength) answered like every
 * other error, instead of Fastify's own body (which calls a 414 "Bad Request").
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // no route, so no onSend hook: the security headers are set here
  reply.headers({ ...SECURITY_HEADERS, 'content-security-policy': API_CSP, 'cache-control': 'no-store' })
  void sendError(error, request, reply)
}
