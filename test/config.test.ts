import t from 'tap'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { ConfigError, loadConfig } from '../src/config.ts'

t.test('defaults are the spec\'s: port 5173, 10 s timeout, 3 retries', async (t) => {
  const config = loadConfig({})
  t.match(config, { PORT: 5173, WEBHOOK_TIMEOUT_MS: 10_000, WEBHOOK_MAX_RETRIES: 3, RELAY: 'on', NODE_ENV: 'development' })
  t.equal(config.DATABASE_URL, undefined)
  t.ok(path.isAbsolute(config.DATA_DIR))
})

t.test('values are parsed and validated, and a bad one names the variable', async (t) => {
  t.equal(loadConfig({ PORT: '8080', RELAY: 'off' }).PORT, 8080)
  const bad: [Record<string, string>, RegExp][] = [
    [{ PORT: 'eighty' }, /^Invalid PORT="eighty"/],
    [{ PORT: '70000' }, /^Invalid PORT="70000"/],
    [{ WEBHOOK_TIMEOUT_MS: '-5' }, /^Invalid WEBHOOK_TIMEOUT_MS/],
    [{ WEBHOOK_MAX_RETRIES: '2.5' }, /^Invalid WEBHOOK_MAX_RETRIES/],
    [{ RELAY: 'maybe' }, /^Invalid RELAY="maybe"/],
    [{ LOG_LEVEL: 'loud' }, /^Invalid LOG_LEVEL/],
    [{ DATABASE_URL: 'mysql://x' }, /^Invalid DATABASE_URL/],
  ]
  for (const [env, message] of bad) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
  t.ok(new ConfigError('x') instanceof Error)
})

t.test('a bad value stops the process with one line naming the variable', async (t) => {
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', path.resolve('bin/relay')], {
    env: { ...process.env, WEBHOOK_MAX_RETRIES: 'lots' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (c) => (stderr += c))
  const code = await new Promise((resolve) => child.on('exit', resolve))
  t.equal(code, 1)
  t.match(stderr, /^bettercallsold: ConfigError: Invalid WEBHOOK_MAX_RETRIES="lots": .+\n$/)
  t.equal(stderr.trim().split('\n').length, 1, 'one line')
})
