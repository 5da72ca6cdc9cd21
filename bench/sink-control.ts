import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { childEnv } from './processes.ts'

/** Precedes the send time (ns, monotonic) the latency scenario writes into each product's description. */
export const MARKER = 'bench-ts:'

export type SinkRequest = { cmd: 'reset'; latency: boolean } | { cmd: 'stats'; withLatencies: boolean }

export interface SinkStats {
  count: number
  /** requests whose webhook-id had been received before */
  duplicates: number
  /** latency-mode requests without a send time in them */
  unmarked: number
  /** monotonic ms of the first and last receipt */
  first: number | null
  last: number | null
  /** receipt − send, ms (latency mode) */
  latencies: number[]
  /** [event id, receipt on the wall clock, ms] (latency mode) */
  receipts: [string, number][]
}

export type SinkReply = { cmd: 'ready'; port: number } | { cmd: 'reset' } | ({ cmd: 'stats' } & SinkStats)

export interface Sink {
  url: string
  /** zero the counters; `latency` turns on reading the send time from each body */
  reset(latency?: boolean): Promise<void>
  stats(withLatencies?: boolean): Promise<SinkStats>
  /** resolves once `n` requests have arrived; rejects after `timeoutMs` */
  waitForCount(n: number, timeoutMs: number): Promise<SinkStats>
  pid: number
  stop(): Promise<void>
}

/** Starts bench/sink.ts in its own process and talks to it over IPC. */
export async function startSink(): Promise<Sink> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./sink.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: childEnv({}),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  let waiting: ((message: SinkReply) => void)[] = []
  child.on('message', (message: SinkReply) => {
    const next = waiting.shift()
    next?.(message)
  })
  // requests and replies are strictly one at a time, in order
  let queue: Promise<unknown> = Promise.resolve()
  const ask = <T extends SinkReply>(request: SinkRequest | null): Promise<T> => {
    const result = queue.then(
      () =>
        new Promise<T>((resolve, reject) => {
          const onExit = () => reject(new Error('the sink exited'))
          child.once('exit', onExit)
          waiting.push((message) => {
            child.off('exit', onExit)
            resolve(message as T)
          })
          if (request) child.send(request)
        }),
    )
    queue = result.catch(() => {})
    return result
  }
  const ready = await ask<Extract<SinkReply, { cmd: 'ready' }>>(null)
  const stats = async (withLatencies = false): Promise<SinkStats> => {
    const { cmd: _, ...rest } = await ask<Extract<SinkReply, { cmd: 'stats' }>>({ cmd: 'stats', withLatencies })
    return rest
  }
  return {
    url: `http://127.0.0.1:${ready.port}/hook`,
    pid: child.pid ?? 0,
    async reset(latency = false) {
      await ask({ cmd: 'reset', latency })
    },
    stats,
    async waitForCount(n, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const current = await stats()
        if (current.count >= n) return current
        if (Date.now() > deadline) throw new Error(`the sink received ${current.count} of ${n} requests within ${timeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    },
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      waiting = []
      child.kill('SIGTERM')
      await exited
    },
  }
}
