import pino, { type Logger } from 'pino'
import type { Config } from './config.ts'

/** Paths never written to the log, whatever object they appear in. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  // API keys, wherever a header set or a created key is logged
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'key',
  '*.key',
  'api_key',
  '*.api_key',
  'secret',
  '*.secret',
  'secrets',
  '*.secrets',
  // the key that decrypts every plugin secret, should a config object be logged
  'SECRETS_KEY',
  '*.SECRETS_KEY',
]

/** `destination`: where the JSON lines go instead of stdout (tests capture the log this way). */
export function createLogger(
  config: Pick<Config, 'LOG_LEVEL'>,
  options: { pretty?: boolean; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  return pino(
    {
      name: options.name,
      level: config.LOG_LEVEL,
      redact: { paths: REDACT, censor: '[redacted]' },
      ...(options.pretty && {
        transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
      }),
    },
    options.destination,
  )
}
