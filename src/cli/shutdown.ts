import type { Logger } from 'pino'

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits 0 (1 if stopping failed).
 * A second signal exits at once: the operator has decided not to wait.
 */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = true
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
