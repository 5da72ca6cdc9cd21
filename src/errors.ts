import type { FastifyError, FastifyInstance } from 'fastify'
import { isDatabaseUnavailable } from './db/unavailable.ts'

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
  '22P02': [400, 'INVALID_INPUT'], // invalid text representation (e.g. a malformed uuid)
  '22003': [400, 'INVALID_INPUT'], // numeric out of range
  '22001': [400, 'INVALID_INPUT'], // string too long
  '23505': [409, 'CONFLICT'], // unique violation
  '23514': [400, 'INVALID_INPUT'], // check violation
  '57P01': [503, 'SERVICE_UNAVAILABLE'], // admin shutdown
  '57P03': [503, 'SERVICE_UNAVAILABLE'], // cannot connect now
  '08006': [503, 'SERVICE_UNAVAILABLE'],
  '08001': [503, 'SERVICE_UNAVAILABLE'],
}

function classify(error: FastifyError & { code?: string }): {
  statusCode: number
  code: string
  message: string
  details?: Record<string, unknown>
} {
  if (error instanceof AppError) return { statusCode: error.statusCode, code: error.code, message: error.message, details: error.details }
  if (error.validation) {
    return { statusCode: 400, code: 'VALIDATION_ERROR', message: error.message }
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

/**
 * The one place errors become HTTP responses: `{ statusCode, error, message, code }`.
 * The text of a 5xx never reaches the client; it goes to the log.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { statusCode, code, message, details } = classify(error)
    if (statusCode >= 500) request.log.error({ err: error }, 'request failed')
    if (statusCode === 503) reply.header('retry-after', '5')
    return reply.status(statusCode).send({ ...details, statusCode, error: STATUS_TEXT[statusCode] ?? 'Error', message, code })
  })
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `Route ${request.method} ${request.url.split('?')[0]} not found`,
      code: 'ROUTE_NOT_FOUND',
    }),
  )
}
