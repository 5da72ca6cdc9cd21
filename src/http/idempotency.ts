import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import { sql } from 'kysely'
import { AppError, ConflictError, ValidationError } from '../errors.ts'

/** Keys are remembered this long (Stripe's 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000
/**
 * A first request that has not answered after this long is taken to have died
 * with its process (its response was never stored), and a retry may run again.
 */
const ABANDONED_AFTER_MS = 60 * 1000
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/
/** Shown once and never stored in plain text: a replayed response omits them. */
export const ONCE_ONLY_FIELDS = ['secret', 'key']

function storable(payload: unknown): string {
  const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : ''
  if (!ONCE_ONLY_FIELDS.some((f) => text.includes(`"${f}"`))) return text
  try {
    const body = JSON.parse(text) as Record<string, unknown>
    for (const field of ONCE_ONLY_FIELDS) delete body[field]
    return JSON.stringify(body)
  } catch {
    return text
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** set when this request is the first with its Idempotency-Key: its response is stored */
    idempotencyKey: string | null
  }
}

class IdempotencyKeyReusedError extends AppError {
  constructor() {
    super(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request; use a new key')
  }
}

/**
 * `Idempotency-Key` on POST: the first request with a key runs and its response
 * (status and body) is stored; a retry with the same key and the same request gets
 * that response again, with `idempotent-replayed: true`, and writes nothing. The
 * same key with another body (or path) is a 422; a retry while the first is still
 * running is a 409. Server errors are not stored, so they can be retried. A
 * secret or key in the first response is not stored, so a replay omits it.
 */
export const idempotency = fp(
  async (app) => {
    const { db } = app.ctx.database
    app.decorateRequest('idempotencyKey', null)

    app.addHook('preHandler', async (request, reply) => {
      const key = request.headers['idempotency-key']
      // keys are kept per tenant: a route whose caller is a developer or an app (src/apps/) has none, and is not replayed
      if (request.method !== 'POST' || key === undefined || request.routeOptions.config?.principal) return
      if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
        throw new ValidationError('INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1-255 printable ASCII characters')
      }
      const hash = createHash('sha256')
        .update(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`)
        .digest('hex')
      // expired and abandoned keys give way; then the insert decides who is first
      await sql`
        delete from idempotency_keys
         where tenant_id = ${request.tenantId} and key = ${key}
           and (created_at < now() - ${IDEMPOTENCY_TTL_MS}::integer * interval '1 millisecond'
                or (status_code is null and created_at < now() - ${ABANDONED_AFTER_MS}::integer * interval '1 millisecond'))
      `.execute(db)
      const inserted = await db
        .insertInto('idempotency_keys')
        .values({ tenant_id: request.tenantId, key, request_hash: hash })
        .onConflict((oc) => oc.doNothing())
        .returning('key')
        .executeTakeFirst()
      if (inserted) {
        request.idempotencyKey = key
        return
      }
      const first = await db
        .selectFrom('idempotency_keys')
        .select(['request_hash', 'status_code', 'response_body'])
        .where('tenant_id', '=', request.tenantId)
        .where('key', '=', key)
        .executeTakeFirst()
      if (!first) throw new ConflictError('IDEMPOTENCY_REQUEST_IN_PROGRESS', 'A request with this Idempotency-Key is in progress; retry shortly')
      if (first.request_hash !== hash) throw new IdempotencyKeyReusedError()
      if (first.status_code === null) {
        throw new ConflictError('IDEMPOTENCY_REQUEST_IN_PROGRESS', 'A request with this Idempotency-Key is in progress; retry shortly')
      }
      reply.header('idempotent-replayed', 'true')
      reply.header('content-type', 'application/json; charset=utf-8')
      return reply.status(first.status_code).send(first.response_body ?? '')
    })

    app.addHook('onSend', async (request, reply, payload) => {
      const key = request.idempotencyKey
      if (!key) return payload
      request.idempotencyKey = null
      if (reply.statusCode >= 500) {
        await db.deleteFrom('idempotency_keys').where('tenant_id', '=', request.tenantId).where('key', '=', key).execute()
      } else {
        await db
          .updateTable('idempotency_keys')
          .set({ status_code: reply.statusCode, response_body: storable(payload) })
          .where('tenant_id', '=', request.tenantId)
          .where('key', '=', key)
          .execute()
      }
      return payload
    })
  },
  { name: 'idempotency', dependencies: ['tenant'] },
)
