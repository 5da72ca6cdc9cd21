import type { Logger } from 'pino'

/**
 * The same signal again within this time is the first one delivered twice, not
 * an operator's second: Ctrl-C in a terminal reaches both `npm start` and this
 * process, and npm forwards it once more.
 */
const DUPLICATE_SIGNAL_MS = 1000

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits 0 (1 if stopping failed).
 * A second signal exits at once: the operator has decided not to wait.
 */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping: { signal: NodeJS.Signals; at: number } | undefined
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (signal === stopping.signal && Date.now() - stopping.at < DUPLICATE_SIGNAL_MS) return
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = { signal, at: Date.now() }
    log.info({ signal }, 'shutting down')
    stop().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', handler)
  process.on('SIGINT', handler)
}

/** A start-up failure: one clear line on stderr, exit 1. */
export function fatal(error: unknown): never {
  const message = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error)
  process.stderr.write(`bettercallsold: ${message}\n`)
  process.exit(1)
}
