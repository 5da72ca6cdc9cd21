import pino, { type Logger } from 'pino'
import type { Config } from './config.ts'

/** Paths never written to the log, whatever object they appear in. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'secret',
  '*.secret',
  'secrets',
  '*.secrets',
]

export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, options: { pretty?: boolean; name?: string } = {}): Logger {
  return pino({
    name: options.name,
    level: config.LOG_LEVEL,
    redact: { paths: REDACT, censor: '[redacted]' },
    ...(options.pretty && {
      transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    }),
  })
}
