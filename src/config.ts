import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import path from 'node:path'

export const SECOND = 1000
export const MINUTE = 60 * SECOND

const Int = (opts: { default: number; minimum?: number; maximum?: number; description: string }) =>
  Type.Integer({ minimum: 0, ...opts })

/**
 * Every setting of the service, read and validated once at start. The schema is
 * the single source of truth: validation, defaults, the `Config` type and the
 * README's table all come from here.
 */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
    description: 'development | production | test',
  }),
  PORT: Int({ default: 5173, maximum: 65535, description: 'HTTP port of the API' }),
  HOST: Type.String({ default: '0.0.0.0', minLength: 1, description: 'Interface the API binds to' }),
  DATABASE_URL: Type.Optional(
    Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL URL; unset = start the embedded PostgreSQL' }),
  ),
  DATA_DIR: Type.String({ default: '.data', minLength: 1, description: 'Where the embedded PostgreSQL keeps its data' }),
  EMBEDDED_PG_PORT: Int({ default: 54329, minimum: 1, maximum: 65535, description: 'Port of the embedded PostgreSQL' }),
  RELAY: Type.Union([Type.Literal('on'), Type.Literal('off')], {
    default: 'on',
    description: '`off` starts the API without its in-process relay',
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'pino log level' },
  ),
  WEBHOOK_TIMEOUT_MS: Int({ default: 10 * SECOND, minimum: 100, maximum: 60 * SECOND, description: 'Timeout of one webhook POST' }),
  WEBHOOK_MAX_RETRIES: Int({ default: 3, maximum: 20, description: 'Retries after the first attempt before `failed`' }),
  WEBHOOK_RETRY_BASE_MS: Int({
    default: 10 * SECOND,
    minimum: 1,
    description: 'Backoff base: retry n waits base × 4^(n-1), ±20 % jitter',
  }),
  WEBHOOK_MAX_RESPONSE_BYTES: Int({ default: 64 * 1024, minimum: 0, description: 'Bytes of a response read at most' }),
  RELAY_CONCURRENCY: Int({ default: 50, minimum: 1, maximum: 1000, description: 'Deliveries in flight per relay' }),
  RELAY_POLL_INTERVAL_MS: Int({
    default: 2 * SECOND,
    minimum: 10,
    description: 'Fallback poll when no NOTIFY arrives (due retries, lost notifications)',
  }),
  RELAY_SHUTDOWN_GRACE_MS: Int({
    default: 15 * SECOND,
    minimum: 0,
    description: 'On SIGTERM, how long in-flight deliveries may finish',
  }),
})

export type Config = Static<typeof ConfigSchema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parses the environment; throws a one-line ConfigError naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const [key, schema] of Object.entries(ConfigSchema.properties)) {
    const value = env[key]
    if (value === undefined || value === '') continue
    raw[key] = schema.type === 'integer' ? (/^-?\d+$/.test(value.trim()) ? Number(value) : value) : value
  }
  const withDefaults = Value.Default(ConfigSchema, raw)
  const error = Value.Errors(ConfigSchema, withDefaults).First()
  if (error) {
    const name = error.path.replace(/^\//, '')
    throw new ConfigError(`Invalid ${name}=${JSON.stringify(env[name] ?? '')}: ${error.message}`)
  }
  const config = withDefaults as Config
  return { ...config, DATA_DIR: path.resolve(config.DATA_DIR) }
}

/** How long a claim is held: a delivery outlives its timeout only by this margin before another relay may take it. */
export function leaseMs(config: Pick<Config, 'WEBHOOK_TIMEOUT_MS'>): number {
  return config.WEBHOOK_TIMEOUT_MS + 20 * SECOND
}
