import { PassThrough } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { UnauthorizedError } from '../errors.ts'
import { liveKeyIds } from '../keys/api-key.repository.ts'
import { RevocationWatch } from '../keys/revocation-watch.ts'
import { liveStreamClients } from '../metrics/process-metrics.ts'
import { changesSince, currentCursor, type ChangeFilter, type LiveChange } from './change-queries.ts'
import { ChangeHub } from './hub.ts'
import { OpenStreams } from './open-streams.ts'

/** Most changes replayed on resume; a longer gap is answered with `reset` (reload, then follow). */
export const REPLAY_LIMIT = 1000
/**
 * A resume from further back than this many ids (of deliveries, or of attempts,
 * counted over every tenant) is answered with `reset` without reading: the
 * catch-up walks ids in order and keeps its tenant's, so `Last-Event-ID: 0:0`
 * with a filter that matches nothing would read every tenant's history.
 */
export const MAX_RESUME_GAP = 100_000
/** A client this far behind (bytes queued for it) is cut off; it reconnects and resumes from its last id. */
const MAX_QUEUED_BYTES = 1024 * 1024
/** How soon a browser's EventSource reconnects after the stream ends. */
const RECONNECT_MS = 2000

export interface Cursor {
  delivery: number
  attempt: number
  /** every change of a transaction below this xid8, up to the ids above, was sent; 0: unknown */
  xmin: number
}

/**
 * `Last-Event-ID` is `<delivery id>:<attempt id>:<xmin>`: the newest creation and
 * attempt the client has seen, and the horizon below which it has seen everything
 * (src/live/change-queries.ts, changesSince). The older `<delivery>:<attempt>` is
 * still read (xmin 0: no look-back).
 */
export const formatCursor = (c: Cursor): string => `${c.delivery}:${c.attempt}:${c.xmin}`
export function parseCursor(value: string | undefined): Cursor | null {
  const match = /^(\d{1,16}):(\d{1,16})(?::(\d{1,16}))?$/.exec(value?.trim() ?? '')
  return match ? { delivery: Number(match[1]), attempt: Number(match[2]), xmin: Number(match[3] ?? 0) } : null
}

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

export const StreamQuery = Type.Object(
  {
    plugin: Type.Optional(Type.String({ maxLength: 1000, description: 'Only these plugins: slugs, comma-separated' })),
    event: Type.Optional(Type.String({ maxLength: 2000, description: 'Only these event types, comma-separated' })),
  },
  { additionalProperties: false },
)

const StreamHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({ maxLength: 60, description: 'Resume after this event id (browsers send it on reconnect)' }),
  ),
})

/**
 * `GET /api/plugins/events/stream`: delivery changes as Server-Sent Events, of
 * the caller's tenant, fed by the process's one ChangeHub. Each event carries an
 * id to resume from; a comment line every STREAM_HEARTBEAT_MS keeps proxies
 * from closing an idle stream and lets the client notice a dead one.
 */
const streamRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, config, logger } = app.ctx
  const db = database.db
  const connectionString = database.pool.options.connectionString
  if (!connectionString) throw new Error('the live stream needs the database pool to have a connection string')
  const hub = new ChangeHub(db, connectionString, logger)
  const streams = new Set<PassThrough>()
  const open = new OpenStreams({ perKey: config.MAX_STREAMS_PER_KEY, perTenant: config.MAX_STREAMS_PER_TENANT })

  // A revoked key's streams end at once, in every process: the revocation is
  // announced by NOTIFY; after a reconnect (announcements missed) every key that
  // holds a stream is looked up again.
  const revocations = new RevocationWatch(connectionString, logger, (keyId) => {
    if (keyId !== null) {
      open.revoke(new Set([keyId]))
      return
    }
    const held = open.keyIds()
    liveKeyIds(db, held).then(
      (live) => open.revoke(new Set(held.filter((id) => !live.has(id)))),
      (error: unknown) => logger.error({ err: error }, 'could not recheck the keys of open live streams'),
    )
  })

  const heartbeat = setInterval(() => {
    for (const stream of streams) stream.write(': heartbeat\n\n')
  }, config.STREAM_HEARTBEAT_MS).unref()

  // open streams would hold app.close() forever: end them first
  app.addHook('preClose', async () => {
    clearInterval(heartbeat)
    for (const stream of streams) stream.end()
  })
  app.addHook('onClose', async () => {
    await Promise.all([hub.close(), revocations.close()])
  })

  app.get(
    '/api/plugins/events/stream',
    { schema: { querystring: StreamQuery, headers: StreamHeaders } },
    async (request, reply) => {
      const filter: ChangeFilter = { tenantId: request.tenantId, plugins: list(request.query.plugin), events: list(request.query.event) }
      // a place on the budget first (a 429 beyond it), then the key once more, now
      // that a revocation committed from here on is heard and ends the stream
      const slot = open.take({ keyId: request.apiKey?.id ?? null, tenantId: request.tenantId })
      try {
        if (slot.keyId !== null) {
          await revocations.listening()
          if (!(await liveKeyIds(db, [slot.keyId])).has(slot.keyId)) slot.revoked = true
        }
        if (slot.revoked) throw new UnauthorizedError('INVALID_API_KEY', 'The API key is invalid or has been revoked')
      } catch (error) {
        slot.release()
        throw error
      }
      const stream = new PassThrough()
      slot.revoke = () => {
        if (stream.writableEnded) return
        stream.write(`event: revoked\ndata: {"code":"API_KEY_REVOKED","message":"The API key of this stream was revoked"}\n\n`)
        stream.end()
      }
      const seen = new Set<string>()
      let cursor: Cursor = { delivery: 0, attempt: 0, xmin: 0 }
      let live = false
      const held: LiveChange[] = []

      const write = (change: LiveChange) => {
        // a change both replayed and announced live is sent once
        const key = `${change.data.delivery_id}:${change.data.change}:${change.attemptCursor ?? change.deliveryCursor ?? change.data.at}`
        if (seen.has(key)) return
        if (seen.size < REPLAY_LIMIT * 2) seen.add(key)
        cursor = {
          delivery: Math.max(cursor.delivery, change.deliveryCursor ?? 0),
          attempt: Math.max(cursor.attempt, change.attemptCursor ?? 0),
          // the hub's horizon holds for this client once its replay is done
          xmin: live ? Math.max(cursor.xmin, hub.horizon) : cursor.xmin,
        }
        stream.write(`id: ${formatCursor(cursor)}\nevent: ${change.data.change}\ndata: ${JSON.stringify(change.data)}\n\n`)
        if (stream.writableLength + stream.readableLength > MAX_QUEUED_BYTES) {
          request.log.warn('live stream client too slow; disconnecting it (it resumes from its last event id)')
          stream.end()
        }
      }

      let unsubscribe: () => void
      try {
        unsubscribe = await hub.subscribe(
          filter,
          (change) => (live ? write(change) : held.push(change)),
          // the hub's horizon moved past what this client was sent: an id line alone
          // (no event) moves the client's Last-Event-ID, so a resume reads back less
          (xmin) => {
            if (!live || xmin <= cursor.xmin || stream.writableEnded) return
            cursor = { ...cursor, xmin }
            stream.write(`id: ${formatCursor(cursor)}\n\n`)
          },
        )
      } catch (error) {
        slot.release()
        throw error
      }
      const close = () => {
        slot.release()
        unsubscribe()
        if (streams.delete(stream)) liveStreamClients.dec()
        if (!stream.writableEnded) stream.end()
      }
      reply.raw.on('close', close)
      stream.on('finish', close)
      try {
        const now = await currentCursor(db)
        const resumeFrom = parseCursor(request.headers['last-event-id'])
        stream.write(`retry: ${RECONNECT_MS}\n\n`)
        if (resumeFrom) {
          cursor = resumeFrom
          const tooOld = now.delivery - resumeFrom.delivery > MAX_RESUME_GAP || now.attempt - resumeFrom.attempt > MAX_RESUME_GAP
          const missed = tooOld ? { truncated: true, changes: [], xmin: 0 } : await changesSince(db, filter, resumeFrom, REPLAY_LIMIT)
          if (missed.truncated) {
            // too much to replay: the client reloads what it shows, then follows from now
            cursor = { ...now, xmin: Math.max(now.xmin, hub.horizon) }
            const reason = tooOld ? 'the last event id is too old to resume from' : `more than ${REPLAY_LIMIT} changes missed`
            stream.write(`id: ${formatCursor(cursor)}\nevent: reset\ndata: {"reason":"${reason}"}\n\n`)
          } else {
            for (const change of missed.changes) write(change)
            // everything of a transaction below the replay's horizon was visible to it
            cursor = { ...cursor, xmin: Math.max(cursor.xmin, missed.xmin, hub.horizon) }
          }
        } else {
          cursor = { ...now, xmin: Math.max(now.xmin, hub.horizon) }
        }
        live = true
        for (const change of held.splice(0)) write(change)
        const ready = { tenant_id: filter.tenantId, plugins: filter.plugins, events: filter.events, resumed: resumeFrom !== null }
        stream.write(`id: ${formatCursor(cursor)}\nevent: ready\ndata: ${JSON.stringify(ready)}\n\n`)
      } catch (error) {
        close()
        throw error
      }
      // revoked while it was being set up
      if (slot.revoked) slot.revoke()
      if (!stream.writableEnded) {
        streams.add(stream)
        liveStreamClients.inc()
      }
      return reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-store')
        // nginx and friends must pass each event on at once
        .header('x-accel-buffering', 'no')
        // the connection ends with the stream: left open for keep-alive, a stream ended at
        // shutdown would hold app.close() until the keep-alive timeout (72 s)
        .header('connection', 'close')
        .send(stream)
    },
  )
}

export default streamRoutes
