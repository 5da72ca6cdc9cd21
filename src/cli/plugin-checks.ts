// What bin/quick-plugin-test and bin/test-plugins share: the target server, an
// API client, a receiver of their own on 127.0.0.1 that verifies signatures with
// the receiver SDK, and a step runner printing one ✓/✗ line per step.

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { verifyWebhook } from '../receiver/index.ts'

export const DEFAULT_URL = 'http://localhost:5173'

export interface Target {
  url: string
  key: string | undefined
  /** how long to wait for a webhook or a retry */
  timeoutMs: number
}

/** `bin/x [url] [--key <api key>] [--timeout <seconds>]`; the key may also come from BCS_API_KEY. */
export function parseTarget(argv: string[], env: NodeJS.ProcessEnv, defaultTimeoutS: number): Target {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { key: { type: 'string' }, timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help) {
    throw new UsageError('usage: [url, default http://localhost:5173] [--key <api key> | BCS_API_KEY=…] [--timeout <seconds>]')
  }
  const url = (positionals[0] ?? env.BCS_URL ?? DEFAULT_URL).replace(/\/+$/, '')
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`not an http(s) URL: ${url}`)
  const timeout = Number(values.timeout ?? defaultTimeoutS)
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout must be a number of seconds`)
  return { url, key: values.key ?? (env.BCS_API_KEY || undefined), timeoutMs: timeout * 1000 }
}

export class UsageError extends Error {}

export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly body: { code?: string; message?: string } | undefined,
    what: string,
  ) {
    super(`${what} → ${status}${body?.code ? ` ${body.code}` : ''}${body?.message ? `: ${body.message}` : ''}`)
  }
}

/** The API, as a plugin author's script calls it. */
export function apiClient(target: Target) {
  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(target.url + path, {
      method,
      headers: {
        ...(target.key && { authorization: `Bearer ${target.key}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    })
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      parsed = text
    }
    return { status: response.status, body: parsed }
  }
  return {
    call,
    /** the call, which must answer `expected` (by default any 2xx) */
    async expect(method: string, path: string, body?: unknown, expected?: number): Promise<any> {
      const res = await call(method, path, body)
      const ok = expected === undefined ? res.status >= 200 && res.status < 300 : res.status === expected
      if (!ok) throw new ApiCallError(res.status, res.body, `${method} ${path}`)
      return res.body
    },
  }
}

export type Api = ReturnType<typeof apiClient>

export interface Delivery {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  json: any
  /** 'verified', 'unsigned' (no secret to check with), or why verification failed */
  signature: string
  at: number
}

/**
 * A webhook receiver on 127.0.0.1 (a port the kernel picks): it records every
 * request, verifies its signature when it has the plugin's secret, and answers
 * what `answer` says (200 unless told otherwise).
 */
export async function startReceiver() {
  const received: Delivery[] = []
  const state = {
    secret: undefined as string | undefined,
    answer: (() => 200) as (delivery: Delivery) => number,
  }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      let json: unknown
      try {
        json = JSON.parse(raw.toString('utf8'))
      } catch {
        json = undefined
      }
      let signature = 'unsigned'
      if (state.secret) {
        try {
          verifyWebhook(state.secret, req.headers, raw)
          signature = 'verified'
        } catch (error) {
          signature = (error as Error).message
        }
      }
      const delivery: Delivery = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: raw.toString('utf8'), json, signature, at: performance.now() }
      received.push(delivery)
      res.writeHead(state.answer(delivery), { 'content-type': 'text/plain' }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    state,
    /** the first delivery (after `since`) that `match` accepts, waited for up to `timeoutMs` */
    async next(match: (d: Delivery) => boolean, timeoutMs: number, since = 0): Promise<Delivery> {
      const deadline = performance.now() + timeoutMs
      for (;;) {
        const found = received.slice(since).find(match)
        if (found) return found
        if (performance.now() > deadline) throw new Error(`nothing arrived within ${Math.round(timeoutMs / 1000)} s`)
        await sleep(25)
      }
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
    },
  }
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>

/** Polls `check` until it returns a value (not undefined/false), or throws `message` after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, message: string): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (performance.now() > deadline) throw new Error(message)
    await sleep(100)
  }
}

/** Thrown by a step that does not apply to this server (a route or an event family it does not have). */
export class Skip extends Error {}

/**
 * Runs steps in order and prints one line each: ✓ what was checked, ✗ what went
 * wrong, – what does not apply. On a terminal, the running step shows as "…"
 * until it ends, so a long wait is visible.
 */
export class Steps {
  passed = 0
  failed = 0
  skipped = 0
  private readonly started = performance.now()

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  heading(text: string): void {
    this.out.write(`\n${text}\n`)
  }

  /** Runs `fn`; its return value, if a string, is the ✓ line's text. Returns undefined when it failed or was skipped. */
  async run<T>(label: string, fn: () => Promise<T>): Promise<T | undefined> {
    const tty = this.out.isTTY
    if (tty) this.out.write(`  … ${label}`)
    const started = performance.now()
    const clear = tty ? '\r\x1b[K' : ''
    try {
      const result = await fn()
      const ms = Math.round(performance.now() - started)
      const text = typeof result === 'string' ? result : label
      this.out.write(`${clear}  ✓ ${text} ${tty ? `\x1b[2m(${ms} ms)\x1b[0m` : `(${ms} ms)`}\n`)
      this.passed++
      return result
    } catch (error) {
      if (error instanceof Skip) {
        this.out.write(`${clear}  – ${label}: ${error.message}\n`)
        this.skipped++
        return undefined
      }
      this.out.write(`${clear}  ✗ ${label}: ${(error as Error).message}\n`)
      this.failed++
      return undefined
    }
  }

  /** The closing line; the exit code: 0 when nothing failed. */
  summary(): number {
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1)
    const skipped = this.skipped ? `, ${this.skipped} skipped` : ''
    if (this.failed === 0) this.out.write(`\n✓ All ${this.passed} steps passed${skipped} in ${seconds} s\n`)
    else this.out.write(`\n✗ ${this.failed} of ${this.passed + this.failed} steps failed${skipped} (${seconds} s)\n`)
    return this.failed === 0 ? 0 : 1
  }
}

/** A short random suffix, so that runs against a shared server never collide. */
export const suffix = (): string => Math.random().toString(36).slice(2, 8)

/** "verified" or "unsigned" as a step says it; a failed verification is an error. */
export function signatureNote(delivery: Delivery): string {
  if (delivery.signature === 'verified') return 'signature verified'
  if (delivery.signature === 'unsigned') return 'unsigned (the server gave no secret)'
  throw new Error(`signature check failed: ${delivery.signature}`)
}
