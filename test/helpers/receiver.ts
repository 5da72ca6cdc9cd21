import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { waitFor } from './wait.ts'

export interface Received {
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  body: string
  json: any
  at: number
}

/** What the receiver answers: a status, or a function deciding per request. `'hang'` never answers. */
export type Behaviour =
  | number
  | 'hang'
  | ((request: Received, index: number) => number | 'hang' | { status: number; headers?: Record<string, string>; body?: string })

/**
 * A real HTTP receiver on 127.0.0.1 that records every request. Tests change
 * `behaviour` at will and wait on what arrived.
 */
export async function startReceiver(t: Test, behaviour: Behaviour = 200) {
  const received: Received[] = []
  const hanging = new Set<http.ServerResponse>()
  const state = { behaviour }
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json: unknown
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
      const request: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json, at: Date.now() }
      received.push(request)
      const b = state.behaviour
      const answer = typeof b === 'function' ? b(request, received.length - 1) : b
      if (answer === 'hang') {
        hanging.add(res)
        res.on('close', () => hanging.delete(res))
        return
      }
      const { status, headers = {}, body: out = '' } = typeof answer === 'number' ? { status: answer } : answer
      res.writeHead(status, { 'content-type': 'text/plain', ...headers })
      res.end(out)
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    set behaviour(b: Behaviour) {
      state.behaviour = b
    },
    /** answers every request left hanging so far */
    answerHanging(status = 200) {
      const count = hanging.size
      for (const res of hanging) {
        res.writeHead(status, { 'content-type': 'text/plain' })
        res.end()
      }
      hanging.clear()
      return count
    },
    /** resolves once at least `n` requests have arrived */
    async waitForCount(n: number, timeoutMs = 15_000): Promise<Received[]> {
      await waitFor(() => received.length >= n, { timeoutMs, message: `${n} webhook(s) at the receiver (have ${received.length})` })
      return received
    },
  }
}
