import { spawn } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { SUITE_CUSTOMER_EMAIL } from '../src/cli/test-plugins.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { startApp } from './helpers/app.ts'

/** Runs a bin/ script as a person would (without the loader tap adds to NODE_OPTIONS); resolves with its exit code and output. */
function run(script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', path.resolve('bin', script), ...args], {
    env: { ...process.env, BCS_API_KEY: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })))
}

t.test('bin/quick-plugin-test passes every step against a running server, verifies the signature, and leaves nothing behind', async (t) => {
  const app = await startApp(t)
  const { code, output } = await run('quick-plugin-test', [app.url])
  if (code !== 0) t.comment(output)
  t.equal(code, 0, 'exits 0')
  t.match(output, `BetterCallSold quick plugin test → ${app.url}`)
  for (const line of [
    /✓ Server is up: database up, relay running/,
    /✓ Receiver listening on http:\/\/127\.0\.0\.1:\d+\/hook/,
    /✓ Register plugin quick-test-\w+/,
    /✓ Connectivity test: HTTP 200 in \d+ ms, signature verified/,
    /✓ Created product [0-9a-f-]{36}/,
    /✓ Received product\.created as dlv_\d+, signature verified/,
    /✓ Events log: #\d+ sent after 1 attempt\(s\), last HTTP 200/,
    /✓ Delete the product/,
    /✓ Delete plugin quick-test-\w+/,
  ]) {
    t.match(output, line)
  }
  t.match(output, /✓ All 9 steps passed in [\d.]+ s/)
  t.notMatch(output, /✗/)
  t.same((await app.request('GET', '/api/plugins')).body.plugins, [], 'its plugin is gone')
  t.same((await app.request('GET', '/api/products')).body.products, [], 'and its product')
})

t.test('bin/quick-plugin-test says which step failed and exits non-zero; a key makes it pass', async (t) => {
  const app = await startApp(t, { AUTH: 'required' })
  const refused = await run('quick-plugin-test', [app.url])
  t.equal(refused.code, 1)
  t.match(refused.output, /✗ Register plugin quick-test-\w+: POST \/api\/plugins → 401 MISSING_API_KEY/)
  t.match(refused.output, /✗ 1 of 3 steps failed/)

  const { key } = await createApiKey(app.database.db, DEFAULT_TENANT, {})
  const allowed = await run('quick-plugin-test', [app.url], { BCS_API_KEY: key })
  if (allowed.code !== 0) t.comment(allowed.output)
  t.equal(allowed.code, 0, 'with BCS_API_KEY set, it passes')

  const usage = await run('quick-plugin-test', ['not a url'])
  t.equal(usage.code, 2, 'a usage error exits 2')
  t.match(usage.output, /not an http\(s\) URL/)
})

t.test('bin/test-plugins walks every endpoint and event family, a retry, a redelivery and a pause, and passes', async (t) => {
  const app = await startApp(t, { WEBHOOK_RETRY_BASE_MS: '200' })
  const { code, output } = await run('test-plugins', [app.url])
  if (code !== 0) t.comment(output)
  t.equal(code, 0, 'exits 0')
  for (const line of [
    /✓ Registered plugin-suite-\w+ for \d+ event types, with its signing secret/,
    /✓ GET \/api\/plugins\/:slug\/secret returns the secret/,
    /✓ a failing endpoint is reported: success false, status 503/,
    /✓ rotated; the next webhook has a signature verified with the new secret/,
    /✓ product\.created \(verified\), product\.updated \(verified\)/,
    /✓ inventory\.updated \(verified\), inventory\.low \(verified\), inventory\.out \(verified\)/,
    /✓ customer\.created \(verified\), customer\.updated \(verified\)/,
    /✓ order\.created \(verified\), order\.paid \(verified\), order\.shipped \(verified\), order\.delivered \(verified\), order\.cancelled \(verified\)/,
    /500, then retried after [\d.]+ s: 500 → 200, same webhook-id/,
    /✓ POST \/api\/plugins\/events\/\d+\/retry: received again as dlv_\d+, signature verified/,
    /✓ held while paused .*, delivered on resume, signature verified/,
    /✓ the stream showed \d+ created, 1 retry, \d+ sent/,
    /✓ 4 bad requests answered 4xx with their code/,
    /✓ DELETE \/api\/plugins\/plugin-suite-\w+: 204, then 404/,
  ]) {
    t.match(output, line)
  }
  t.notMatch(output, /✗|–/, 'nothing failed or was skipped')
  t.match(output, /✓ Deleted 1 customers(?! \(\d+ kept)/, 'the customer it created is deleted, none kept')
  t.same((await app.request('GET', '/api/plugins')).body.plugins, [], 'its plugin is gone')
  t.same((await app.request('GET', '/api/products')).body.products, [], 'and its products')
  const customers = async () => (await app.request('GET', '/api/customers')).body.customers.map((c: { email: string }) => c.email)
  t.same(await customers(), [SUITE_CUSTOMER_EMAIL], 'one customer remains: the one its orders belong to')

  const again = await run('test-plugins', [app.url])
  t.equal(again.code, 0, 'a second run passes')
  t.same(await customers(), [SUITE_CUSTOMER_EMAIL], 'and leaves no customer behind: its orders go to the same customer')
})
