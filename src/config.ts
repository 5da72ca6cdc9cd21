import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import path from 'node:path'

export const SECOND = 1000
export const MINUTE = 60 * SECOND
export const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR

/**
 * Every number has both bounds: a value outside them stops the start with a
 * message naming the setting. Durations stay far below 2^31 ms, which is where
 * Node fires a timer at once and a PostgreSQL integer ends.
 */
const Int = (opts: { default: number; minimum?: number; maximum: number; description: string }) =>
  Type.Integer({ minimum: 0, ...opts })

/**
 * Every setting of the service, read and validated once at start. The schema is
 * the single source of truth: validation, defaults, the `Config` type and the
 * table of docs/configuration.md all come from here.
 */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
    description: 'development | production | test',
  }),
  PORT: Int({ default: 5173, maximum: 65535, description: 'HTTP port of the API' }),
  HOST: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Interface the API binds to. Default `127.0.0.1` with AUTH=off (an open server is reachable from this machine only), `0.0.0.0` with AUTH=required',
    }),
  ),
  DATABASE_URL: Type.Optional(
    Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL URL; unset = start the embedded PostgreSQL' }),
  ),
  DATA_DIR: Type.String({ default: '.data', minLength: 1, description: 'Where the embedded PostgreSQL keeps its data' }),
  EMBEDDED_PG_PORT: Int({ default: 54329, minimum: 1, maximum: 65535, description: 'Port of the embedded PostgreSQL' }),
  AUTH: Type.Optional(
    Type.Union([Type.Literal('required'), Type.Literal('off')], {
      description:
        '`required`: every request needs `Authorization: Bearer <key>`. `off`: a request without a key acts as the default tenant ' +
        '(a key, when given, is still checked). Default `required` in production, `off` elsewhere',
    }),
  ),
  TRUSTED_HOSTS: Type.Optional(
    Type.String({
      maxLength: 2000,
      description:
        'With AUTH=off, the host names (comma-separated) a request without a key may address besides loopback ones: ' +
        'others are refused (403 UNTRUSTED_HOST), which stops DNS rebinding. Set it to reach a keyless server by another name',
    }),
  ),
  AUTH_ALLOW_OFF_IN_PRODUCTION: Type.Boolean({
    default: false,
    description: 'Lets the server start in production with AUTH=off; without it, that is refused',
  }),
  ALLOW_PRIVATE_WEBHOOKS: Type.Optional(
    Type.Boolean({
      description: 'Permit webhook URLs on loopback and private networks. Default `true` outside production, `false` in production',
    }),
  ),
  HTTPS_ONLY: Type.Optional(
    Type.Boolean({ description: 'Refuse `http:` webhook URLs. Default `true` in production, `false` elsewhere' }),
  ),
  RATE_LIMIT_PER_MINUTE: Int({
    default: 6000,
    maximum: 1_000_000,
    description: 'Requests per minute per API key (per client IP without a valid key); 0 turns the limit off',
  }),
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
    maximum: 60 * MINUTE,
    description: 'Backoff base: retry n waits base × 4^(n-1), ±20 % jitter, at most a day',
  }),
  WEBHOOK_MAX_RESPONSE_BYTES: Int({ default: 64 * 1024, minimum: 0, maximum: 16 * 1024 * 1024, description: 'Bytes of a response read at most' }),
  RELAY_CONCURRENCY: Int({ default: 50, minimum: 1, maximum: 1000, description: 'Deliveries in flight per relay' }),
  RELAY_POLL_INTERVAL_MS: Int({
    default: 2 * SECOND,
    minimum: 10,
    maximum: 10 * MINUTE,
    description: 'Fallback poll when no NOTIFY arrives (due retries, lost notifications)',
  }),
  RELAY_LEASE_MARGIN_MS: Int({
    default: 20 * SECOND,
    minimum: 100,
    maximum: HOUR,
    description: 'A claim lasts WEBHOOK_TIMEOUT_MS plus this; then a crashed relay\'s deliveries are claimable again',
  }),
  PLUGIN_MAX_IN_FLIGHT: Int({
    default: 20,
    minimum: 1,
    maximum: 10_000,
    description: 'Deliveries of one plugin in flight at once, across all relays: a slow plugin cannot take every slot',
  }),
  PLUGIN_DISABLE_AFTER_FAILURES: Int({
    default: 100,
    minimum: 1,
    maximum: 1_000_000,
    description: 'A plugin whose last this-many deliveries all failed is disabled (0 retries left on each)',
  }),
  PLUGIN_DISABLE_AFTER_DAYS: Int({
    default: 5,
    minimum: 1,
    maximum: 365,
    description: 'A plugin whose deliveries have all failed for this many days is disabled',
  }),
  RETRY_AFTER_MAX_MS: Int({
    default: 60 * MINUTE,
    minimum: 0,
    maximum: 24 * 60 * MINUTE,
    description: 'The longest Retry-After (on 429 and 503) that is honoured; longer ones are cut to this',
  }),
  RETENTION_DAYS: Int({
    default: 30,
    minimum: 1,
    maximum: 3650,
    description: 'Settled deliveries (sent, failed, cancelled) and their attempts are deleted after this many days',
  }),
  RETENTION_DUTY_PERCENT: Int({
    default: 5,
    minimum: 1,
    maximum: 100,
    description: "The share of time retention's deletes may take: after each batch of 1,000 it rests (100 − p) / p times what the batch took",
  }),
  ANALYTICS: Type.Union([Type.Literal('on'), Type.Literal('off')], {
    default: 'on',
    description: '`on`: this process (API, or bin/relay on a thread of its own) also runs the analytics aggregator and alerts; any number may, one works at a time',
  }),
  ANALYTICS_INTERVAL_MS: Int({
    default: 5 * SECOND,
    minimum: 10,
    maximum: 10 * MINUTE,
    description: 'How often the aggregator folds new delivery attempts into the rollups and checks alerts',
  }),
  ANALYTICS_HOUR_RETENTION_DAYS: Int({
    default: 92,
    minimum: 2,
    maximum: 400,
    description: 'Hourly rollups are kept this many days (minute rollups two days)',
  }),
  ANALYTICS_RETENTION_DAYS: Int({
    default: 400,
    minimum: 7,
    maximum: 3650,
    description: 'Daily rollups are kept this many days, whatever RETENTION_DAYS deletes of the deliveries',
  }),
  ALERT_FAILING_AFTER: Int({
    default: 10,
    minimum: 1,
    maximum: 100_000,
    description: 'Failed attempts in a row that raise `plugin.failing` (one sent attempt ends the run and sends `plugin.recovered`)',
  }),
  ALERT_BACKLOG_AFTER_MS: Int({
    default: 15 * MINUTE,
    minimum: SECOND,
    maximum: 7 * DAY,
    description: 'Age of a plugin’s oldest due delivery that raises `plugin.backlog`',
  }),
  RELAY_SHUTDOWN_GRACE_MS: Int({
    default: 15 * SECOND,
    minimum: 0,
    maximum: 10 * MINUTE,
    description: 'On SIGTERM, how long in-flight deliveries may finish',
  }),
  SECRETS_KEY: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Key that encrypts plugin secrets at rest: 32 bytes as base64 or 64 hex characters (`openssl rand -base64 32`). ' +
        'Required in production; elsewhere unset = generated once into DATA_DIR/secrets.key',
    }),
  ),
  STREAM_HEARTBEAT_MS: Int({
    default: 15 * SECOND,
    minimum: 10,
    maximum: 10 * MINUTE,
    description: 'How often the live event stream sends a heartbeat comment, so idle connections stay open through proxies',
  }),
  DATABASE_CONNECT_TIMEOUT_MS: Int({
    default: 5 * SECOND,
    minimum: 100,
    maximum: 60 * SECOND,
    description:
      'How long a query waits for a database connection before it fails: while the database is down, a request is answered 503 within this',
  }),
  DATABASE_STATEMENT_TIMEOUT_MS: Int({
    default: 60 * SECOND,
    maximum: 60 * MINUTE,
    description: 'The server cancels a statement running longer than this (0 = no limit): a hung statement cannot hold a connection for good',
  }),
  DATABASE_RETRY_MAX_MS: Int({
    default: 10 * SECOND,
    minimum: 10,
    maximum: 5 * MINUTE,
    description: 'At start, the database is tried again with exponential backoff up to this delay between attempts, for as long as it takes',
  }),
  SECRET_ROTATION_GRACE_MS: Int({
    default: DAY,
    minimum: 0,
    maximum: 30 * DAY,
    description: 'After a secret rotation, how long the previous secret keeps signing alongside the new one',
  }),
  // Per-tenant budgets: no tenant may take what all share. Far above what a real store uses.
  MAX_PLUGINS_PER_TENANT: Int({
    default: 1000,
    minimum: 1,
    maximum: 1_000_000,
    description: 'Plugins one tenant may have (deleted ones do not count); beyond it POST /api/plugins is a 403 PLUGIN_BUDGET_EXCEEDED',
  }),
  MAX_KEYS_PER_TENANT: Int({
    default: 100,
    minimum: 1,
    maximum: 100_000,
    description: 'Live API keys one tenant may hold (revoked ones do not count); beyond it POST /api/keys is a 403 KEY_BUDGET_EXCEEDED',
  }),
  MAX_STREAMS_PER_KEY: Int({
    default: 20,
    minimum: 1,
    maximum: 10_000,
    description: 'Live event streams open at once with one API key, per API process; beyond it a 429 STREAM_BUDGET_EXCEEDED',
  }),
  MAX_STREAMS_PER_TENANT: Int({
    default: 100,
    minimum: 1,
    maximum: 100_000,
    description: 'Live event streams open at once for one tenant, per API process; beyond it a 429 STREAM_BUDGET_EXCEEDED',
  }),
  MAX_LIST_RESPONSE_BYTES: Int({
    default: 1024 * 1024,
    minimum: 64 * 1024,
    maximum: 64 * 1024 * 1024,
    description:
      'Bytes of payloads (events log) or of config and metadata (plugin list) one list response carries at most; ' +
      'a page ends early rather than grow past it',
  }),
  MAX_INLINE_PAYLOAD_BYTES: Int({
    default: 64 * 1024,
    minimum: 1024,
    maximum: 1024 * 1024,
    description:
      'An event payload larger than this is left out of the events log (`payload: null`, `payload_bytes`, `payload_url`); ' +
      'GET /api/plugins/events/{id} returns it whole',
  }),
})

/** Settings whose default depends on NODE_ENV: safe in production, convenient elsewhere. */
type EnvironmentDefaulted = 'AUTH' | 'ALLOW_PRIVATE_WEBHOOKS' | 'HTTPS_ONLY' | 'HOST'

export type Config = Static<typeof ConfigSchema> & Required<Pick<Static<typeof ConfigSchema>, EnvironmentDefaulted>>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parses the environment; throws a one-line ConfigError naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const [key, schema] of Object.entries(ConfigSchema.properties)) {
    const value = env[key]
    if (value === undefined || value === '') continue
    raw[key] =
      schema.type === 'integer'
        ? /^-?\d+$/.test(value.trim()) ? Number(value) : value
        : schema.type === 'boolean'
          ? ({ true: true, false: false } as Record<string, boolean>)[value.trim().toLowerCase()] ?? value
          : value
  }
  const withDefaults = Value.Default(ConfigSchema, raw)
  const error = Value.Errors(ConfigSchema, withDefaults).First()
  if (error) {
    const name = error.path.replace(/^\//, '')
    throw new ConfigError(`Invalid ${name}=${JSON.stringify(env[name] ?? '')}: ${error.message}`)
  }
  const parsed = withDefaults as Static<typeof ConfigSchema>
  const production = parsed.NODE_ENV === 'production'
  const auth = parsed.AUTH ?? (production ? 'required' : 'off')
  const config: Config = {
    ...parsed,
    DATA_DIR: path.resolve(parsed.DATA_DIR),
    AUTH: auth,
    HOST: parsed.HOST ?? (auth === 'off' ? '127.0.0.1' : '0.0.0.0'),
    ALLOW_PRIVATE_WEBHOOKS: parsed.ALLOW_PRIVATE_WEBHOOKS ?? !production,
    HTTPS_ONLY: parsed.HTTPS_ONLY ?? production,
  }
  if (production && config.AUTH === 'off' && !config.AUTH_ALLOW_OFF_IN_PRODUCTION) {
    throw new ConfigError('AUTH=off is refused in production: every store would be open to anyone (set AUTH_ALLOW_OFF_IN_PRODUCTION=true to force it)')
  }
  return config
}

/** Loopback names and addresses: a server bound there is reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare) || /^::ffff:127(\.\d{1,3}){3}$/.test(bare)
}

/**
 * The warning for a server without authentication that listens beyond this
 * machine: anyone on the network may then read plugin secrets and, with
 * ALLOW_PRIVATE_WEBHOOKS, make it POST to the developer's own local services.
 */
export function openServerWarning(config: Pick<Config, 'AUTH' | 'HOST' | 'ALLOW_PRIVATE_WEBHOOKS'>): string | undefined {
  if (config.AUTH !== 'off' || isLoopbackHost(config.HOST)) return undefined
  return (
    `AUTH=off with HOST=${config.HOST}: anyone who can reach this machine can use the API without a key ` +
    `(read and change every plugin and its signing secret${config.ALLOW_PRIVATE_WEBHOOKS ? ', and make this server POST to services on your private network' : ''}). ` +
    'Unset HOST to listen on 127.0.0.1 only, or set AUTH=required.'
  )
}

/**
 * How long a claim is held. The POST itself cannot outlast the timeout; the margin
 * covers recording the outcome. Short enough that a killed relay delays its
 * deliveries by seconds, not hours.
 */
export function leaseMs(config: Pick<Config, 'WEBHOOK_TIMEOUT_MS' | 'RELAY_LEASE_MARGIN_MS'>): number {
  return config.WEBHOOK_TIMEOUT_MS + config.RELAY_LEASE_MARGIN_MS
}
