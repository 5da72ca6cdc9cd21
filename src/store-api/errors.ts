import type { ApiErrorBody } from './api-types.ts'

/**
 * An error the API answered: its `{statusCode, error, message, code}` body, and
 * `details` for a validation error (each field and what is wrong with it). Branch
 * on `code` (stable across releases) or on the subclass; `body` keeps the fields
 * some codes add (`permission` for MISSING_PERMISSION, `problems` for INVALID_CONFIG).
 */
export class StoreApiError extends Error {
  override name = 'StoreApiError'
  readonly statusCode: number
  readonly code: string
  readonly details: ApiErrorBody['details']
  readonly body: ApiErrorBody & Record<string, unknown>
  /** the route called, as `GET /api/products/{id}` */
  readonly route: string
  constructor(route: string, body: ApiErrorBody & Record<string, unknown>) {
    super(`${route}: ${body.statusCode} ${body.code}: ${body.message}`)
    this.route = route
    this.body = body
    this.statusCode = body.statusCode
    this.code = body.code
    this.details = body.details
  }
}

/** 400: the request was refused as it is; `details` names the fields. */
export class StoreApiValidationError extends StoreApiError {
  override name = 'StoreApiValidationError'
}
/** 401: no valid credentials (INVALID_ACCESS_TOKEN after an uninstall, ACCESS_TOKEN_EXPIRED, INVALID_CLIENT_CREDENTIALS). */
export class StoreApiAuthenticationError extends StoreApiError {
  override name = 'StoreApiAuthenticationError'
}
/** 403: the installation lacks a permission (MISSING_PERMISSION), or tokens never reach the route (NOT_ALLOWED_FOR_APPS). */
export class StoreApiPermissionError extends StoreApiError {
  override name = 'StoreApiPermissionError'
}
/** 404: no such record in this store (another store's records are not found either), or no such installation. */
export class StoreApiNotFoundError extends StoreApiError {
  override name = 'StoreApiNotFoundError'
}
/** 409: conflicts with the record's state (paying a cancelled order, …). */
export class StoreApiConflictError extends StoreApiError {
  override name = 'StoreApiConflictError'
}
/** 429 and 503: try again after `retryAfterSeconds`. */
export class StoreApiRetryableError extends StoreApiError {
  override name = 'StoreApiRetryableError'
  readonly retryAfterSeconds: number | undefined
  constructor(route: string, body: ApiErrorBody & Record<string, unknown>, retryAfterSeconds: number | undefined) {
    super(route, body)
    this.retryAfterSeconds = retryAfterSeconds
  }
}

const BY_STATUS: Record<number, typeof StoreApiError> = {
  400: StoreApiValidationError,
  401: StoreApiAuthenticationError,
  403: StoreApiPermissionError,
  404: StoreApiNotFoundError,
  409: StoreApiConflictError,
}

const isErrorBody = (value: unknown): value is ApiErrorBody & Record<string, unknown> =>
  typeof value === 'object' && value !== null && typeof (value as ApiErrorBody).code === 'string' && typeof (value as ApiErrorBody).statusCode === 'number'

/**
 * The one place a failed response becomes an exception. A body that is not the
 * API's error shape (a proxy's HTML page, a truncated answer) still becomes a
 * StoreApiError, with code `UNEXPECTED_RESPONSE`, so callers catch one family.
 */
export function errorOf(route: string, status: number, headers: Headers, text: string): StoreApiError {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {}
  const body = isErrorBody(parsed)
    ? parsed
    : { statusCode: status, error: 'Unexpected response', message: `HTTP ${status} with a body that is not an API error (${text.length} bytes)`, code: 'UNEXPECTED_RESPONSE' }
  if (status === 429 || status === 503) {
    const retryAfter = Number(headers.get('retry-after'))
    return new StoreApiRetryableError(route, body, Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined)
  }
  const Kind = BY_STATUS[status] ?? StoreApiError
  return new Kind(route, body)
}
