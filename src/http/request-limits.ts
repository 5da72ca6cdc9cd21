import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../errors.ts'

/** Longest request target (path and query) served; real ones are far shorter. */
export const MAX_URL_LENGTH = 4096
/** Node's own cap on the request line and headers together; beyond it, a 431 from clientErrorHandler. */
export const MAX_HEADER_BYTES = 16 * 1024

/**
 * Deepest nesting of a JSON body. Far beyond any real config or metadata, and far
 * below what the recursive JSON.stringify and jsonb code paths survive (about
 * 5,000 levels overflow the stack: a 500 for a 10 KB body).
 */
export const MAX_JSON_DEPTH = 32

/** Depth of a parsed JSON value, walked without recursion so no input can exhaust the stack. */
export function jsonDepth(value: unknown, limit = Infinity): number {
  let deepest = 0
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!
    if (item === null || typeof item !== 'object') continue
    deepest = Math.max(deepest, depth)
    if (deepest > limit) break
    for (const child of Object.values(item)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
  }
  return deepest
}

/**
 * Refuses an over-long URL first, before any other work (key lookup, routing's
 * parameters), and a too deeply nested body before validation sees it.
 */
export const requestLimits = fp(
  async (app) => {
    app.addHook('onRequest', async (request) => {
      if (request.url.length > MAX_URL_LENGTH) {
        throw new AppError(414, 'URL_TOO_LONG', `The request URL is longer than ${MAX_URL_LENGTH} characters`)
      }
    })
    app.addHook('preValidation', async (request) => {
      if (typeof request.body === 'object' && request.body !== null && jsonDepth(request.body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
        throw new AppError(400, 'TOO_DEEP', `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`)
      }
    })
  },
  { name: 'request-limits' },
)

const CLIENT_ERRORS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE', `Request line and headers exceed ${MAX_HEADER_BYTES} bytes`],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'REQUEST_TIMEOUT', 'The request was not received in time'],
}

/**
 * Errors Node raises before Fastify sees a request (oversized headers, broken
 * HTTP): answered in the same JSON shape as every other error, then the socket
 * is closed, as Node does.
 */
export function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [statusCode, text, code, message] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Bad Request', 'BAD_HTTP_REQUEST', 'Malformed HTTP request']
  const body = JSON.stringify({ statusCode, error: text, message, code })
  this.log.debug({ err: error }, 'client error')
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${statusCode} ${text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(error)
}
