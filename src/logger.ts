import pino, { type Logger } from 'pino'
import type { Config } from './config.ts'

/** Request headers that carry credentials. */
const CREDENTIAL_HEADERS = ['.authorization', '["proxy-authorization"]', '["x-api-key"]', '.cookie', '["set-cookie"]']

/**
 * Paths never written to the log, whatever object they appear in. Redaction
 * paths cannot recurse, so every place a header set is known to land is listed:
 * a request's, a response's, an error's (got's `err.options.headers`), and
 * Node's `err.rawPacket`, the raw bytes of a request it could not parse (logged
 * at LOG_LEVEL=debug), which hold every header as written.
 */
export const REDACT = [
  // headers, *.headers (req, res, err, …) and the nested places an HTTP client error keeps them
  ...['', '*.', '*.options.', '*.request.', '*.response.', '*.config.'].flatMap((at) => CREDENTIAL_HEADERS.map((h) => `${at}headers${h}`)),
  'rawPacket',
  '*.rawPacket',
  // API keys, wherever a header set or a created key is logged
  'authorization',
  '*.authorization',
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
