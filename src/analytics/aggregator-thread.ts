import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'

/** How long a stopping thread may take to finish its run before it is cut off (a run is one transaction). */
const STOP_GRACE_MS = 10_000
/** A thread that died of a bug is started again after this long. */
const RESTART_AFTER_MS = 5_000

export interface AggregatorThreadOptions {
  /** the thread's entry (tests pass one that fails) */
  entry?: URL
  restartAfterMs?: number
}

export interface AggregatorThread {
  stop(): Promise<void>
}

/**
 * The aggregator of a `bin/relay`, on a worker thread of its own (src/analytics/aggregator-worker.ts),
 * with its own connection. On the relay's thread, each run's work (parsing the slice's attempts,
 * folding them) took that thread's time from the deliveries: the relay is CPU-bound there, and a
 * drain ran at 0.88 of its rate without the aggregator; with the aggregator in another process, at
 * 0.98 (docs/analytics.md). The thread reads its settings from the environment, as the relay does;
 * the database it is handed is the one the relay resolved (never a second embedded PostgreSQL).
 */
export function startAggregatorThread(databaseUrl: string, log: Logger, options: AggregatorThreadOptions = {}): AggregatorThread {
  const { entry = new URL('./aggregator-worker.mjs', import.meta.url), restartAfterMs = RESTART_AFTER_MS } = options
  let stopping = false
  /** the running thread; none between a failure and its restart */
  let worker: Worker | undefined
  let restart: NodeJS.Timeout | undefined

  const start = () => {
    const started = new Worker(entry, { workerData: { databaseUrl } })
    started.on('error', (error) => log.error({ err: error }, 'analytics aggregator thread failed'))
    started.on('exit', (code) => {
      worker = undefined
      if (stopping) return
      log.error({ code }, `analytics aggregator thread exited; starting it again in ${restartAfterMs} ms`)
      restart = setTimeout(start, restartAfterMs).unref()
    })
    worker = started
  }
  start()

  return {
    async stop() {
      stopping = true
      clearTimeout(restart)
      const current = worker
      if (!current) return
      const exited = once(current, 'exit')
      current.postMessage('stop')
      const cutOff = setTimeout(() => void current.terminate(), STOP_GRACE_MS).unref()
      await exited.catch(() => {})
      clearTimeout(cutOff)
    },
  }
}
