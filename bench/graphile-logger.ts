import { Logger } from 'graphile-worker'

/** graphile-worker logs every job at info; like our relay at LOG_LEVEL=warn, it says only what went wrong. */
export function quietGraphileLogger(): Logger {
  return new Logger(() => (level, message) => {
    if (level === 'error' || level === 'warning') process.stderr.write(`graphile-worker ${level}: ${message}\n`)
  })
}
