/**
 * The receiver every scenario posts to, in a process of its own so its work is
 * not charged to the relay. It answers 200 at once on keep-alive connections and
 * counts; in latency mode it also reads the send time the bench wrote into the
 * product (`bench-ts:<ns>` on the system-wide monotonic clock) and keeps
 * receipt − send for each request.
 *
 * Driven over the IPC channel of child_process.fork (see sink-control.ts).
 */
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import type { AddressInfo } from 'node:net'
import { MARKER, type SinkReply, type SinkRequest } from './sink-control.ts'

let count = 0
let failures = 0
let latencyMode = false
let latencies: number[] = []
/** [event id, receipt on the wall clock in ms with µs] per request, to set against the commit time PostgreSQL recorded */
let receipts: [string, number][] = []
let first: number | null = null
let last: number | null = null
/** how many requests each webhook-id arrived in; a repeat is a duplicate delivery */
let seen = new Set<string>()
let duplicates = 0

function sentAt(body: string): bigint | null {
  const at = body.indexOf(MARKER)
  if (at < 0) return null
  const start = at + MARKER.length
  let end = start
  while (end < body.length && body.charCodeAt(end) >= 48 && body.charCodeAt(end) <= 57) end++
  return end > start ? BigInt(body.slice(start, end)) : null
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => {
    if (latencyMode) chunks.push(chunk)
  })
  req.on('end', () => {
    const now = process.hrtime.bigint()
    const id = req.headers['webhook-id']
    // the ceiling sends one id again and again; only the relays' and the peer's ids are unique
    if (typeof id === 'string' && id !== 'ceiling') {
      if (seen.has(id)) duplicates++
      else seen.add(id)
    }
    count++
    first ??= Number(now) / 1e6
    last = Number(now) / 1e6
    if (latencyMode) {
      const wall = performance.timeOrigin + performance.now()
      const body = Buffer.concat(chunks).toString('utf8')
      const sent = sentAt(body)
      if (sent === null) failures++
      else latencies.push(Number(now - sent) / 1e6)
      // the envelope starts {"id":"<event uuid>", (src/outbox/emit.ts)
      if (body.startsWith('{"id":"')) receipts.push([body.slice(7, 43), wall])
    }
    res.writeHead(200, { 'content-length': '0' })
    res.end()
  })
})
// longer than any pause between scenarios: connections are reused, never re-opened mid-run
server.keepAliveTimeout = 10 * 60_000
server.headersTimeout = 10 * 60_000 + 1000
server.requestTimeout = 0

function reply(message: SinkReply): void {
  process.send?.(message)
}

process.on('message', (message: SinkRequest) => {
  switch (message.cmd) {
    case 'reset':
      count = 0
      failures = 0
      duplicates = 0
      first = null
      last = null
      latencies = []
      receipts = []
      seen = new Set()
      latencyMode = message.latency
      reply({ cmd: 'reset' })
      break
    case 'stats':
      reply({ cmd: 'stats', count, duplicates, unmarked: failures, first, last, latencies: message.withLatencies ? latencies : [], receipts: message.withLatencies ? receipts : [] })
      break
  }
})
// the bench going away takes the sink with it
process.on('disconnect', () => process.exit(0))

server.listen(0, '127.0.0.1', () => {
  reply({ cmd: 'ready', port: (server.address() as AddressInfo).port })
})
