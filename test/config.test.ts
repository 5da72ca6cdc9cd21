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

t.test('every number has both bounds, and a value past either stops the start naming the setting', async (t) => {
  const { ConfigSchema } = await import('../src/config.ts')
  const numbers = Object.entries(ConfigSchema.properties).filter(([, schema]) => schema.type === 'integer') as [string, { minimum: number; maximum?: number }][]
  t.ok(numbers.length >= 15, `${numbers.length} numeric settings`)
  for (const [name, schema] of numbers) {
    t.type(schema.maximum, 'number', `${name} has a maximum`)
    t.throws(() => loadConfig({ [name]: String((schema.maximum ?? 0) + 1) }), { name: 'ConfigError', message: new RegExp(`^Invalid ${name}="\\d+": .*less or equal`) }, `${name} above its maximum`)
    t.throws(() => loadConfig({ [name]: String(schema.minimum - 1) }), { name: 'ConfigError', message: new RegExp(`^Invalid ${name}=`) }, `${name} below its minimum`)
    t.equal(loadConfig({ [name]: String(schema.maximum) })[name as 'PORT'], schema.maximum, `${name} at its maximum is accepted`)
  }
  // the review's case: a grace of 25 days is allowed (the rotation stores it safely; see secrets.api.test.ts)
  t.equal(loadConfig({ SECRET_ROTATION_GRACE_MS: String(25 * 24 * 3600 * 1000) }).SECRET_ROTATION_GRACE_MS, 25 * 24 * 3600 * 1000)
})

t.test('no retry waits longer than a week, whatever the policy and base (a delay is stored as an integer of ms)', async (t) => {
  const { nextStep, MAX_RETRY_DELAY_MS } = await import('../src/relay/retry-policy.ts')
  const config = loadConfig({ WEBHOOK_RETRY_BASE_MS: String(3600 * 1000), WEBHOOK_MAX_RETRIES: '20' })
  for (const attempt of [1, 5, 10, 15, 20]) {
    const step = nextStep({ ok: false, statusCode: 500, error: 'HTTP 500', durationMs: 1 }, attempt, null, config, { random: () => 1 })
    t.ok(step.delayMs <= MAX_RETRY_DELAY_MS && step.delayMs < 2 ** 31, `retry ${attempt} waits ${step.delayMs} ms`)
  }
  t.equal(MAX_RETRY_DELAY_MS, 7 * 24 * 3600 * 1000)
})
