import type { Test } from 'tap'
import pino from 'pino'
import { loadConfig, type Config } from '../../src/config.ts'
import { startService, type Service } from '../../src/service.ts'
import { testDatabase, type TestDatabase } from './db.ts'

/** Test configuration: fast retries, a short timeout, quiet logs; override per test. */
export function testConfig(database: TestDatabase, overrides: Partial<Record<keyof Config, string>> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    HOST: '127.0.0.1',
    PORT: '0',
    // the harness's temporary folder, never the developer's .data (secrets.key would land there)
    DATA_DIR: process.env.DATA_DIR ?? '',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    WEBHOOK_TIMEOUT_MS: '2000',
    WEBHOOK_RETRY_BASE_MS: '50',
    RELAY_POLL_INTERVAL_MS: '200',
    RELAY_SHUTDOWN_GRACE_MS: '2000',
    ...overrides,
  })
}

export interface TestApp extends Service {
  database: TestDatabase
  config: Config
  /** base URL of the API, e.g. http://127.0.0.1:40123 */
  url: string
  /** JSON request to the API through real HTTP */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>
}

/** The whole service (API + in-process relay unless RELAY=off) on a fresh database, listening on 127.0.0.1. */
export async function startApp(t: Test, overrides: Partial<Record<keyof Config, string>> = {}, database?: TestDatabase): Promise<TestApp> {
  const db = database ?? (await testDatabase(t))
  const config = testConfig(db, overrides)
  const logger = pino({ level: config.LOG_LEVEL })
  const service = await startService(config, logger)
  t.teardown(() => service.stop())
  const address = service.app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const url = `http://127.0.0.1:${port}`
  return {
    ...service,
    database: db,
    config,
    url,
    async request(method, path, body, headers = {}) {
      const res = await fetch(url + path, {
        method,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      })
      const text = await res.text()
      let parsed: unknown = text
      try {
        parsed = text ? JSON.parse(text) : undefined
      } catch {}
      return { status: res.status, body: parsed, headers: res.headers }
    },
  }
}
