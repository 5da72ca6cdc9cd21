import Fastify from 'fastify'
import t from 'tap'
import { securityHeaders, API_CSP } from '../src/http/security-headers.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { startApp } from './helpers/app.ts'

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': API_CSP,
  'cache-control': 'no-store',
}

t.test('a caller over RATE_LIMIT_PER_MINUTE gets a JSON 429 with Retry-After; keys and IPs count apart', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required', RATE_LIMIT_PER_MINUTE: '5' })
  const a = { authorization: `Bearer ${(await createApiKey(app.database.db, 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', {})).key}` }
  const b = { authorization: `Bearer ${(await createApiKey(app.database.db, 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', {})).key}` }

  const remaining: (string | null)[] = []
  for (let i = 0; i < 5; i++) {
    const res = await app.request('GET', '/api/plugins', undefined, a)
    t.equal(res.status, 200)
    remaining.push(res.headers.get('x-ratelimit-remaining'))
  }
  t.same(remaining, ['4', '3', '2', '1', '0'])
  const limited = await app.request('GET', '/api/plugins', undefined, a)
  t.equal(limited.status, 429)
  t.match(limited.body, { statusCode: 429, error: 'Too Many Requests', code: 'RATE_LIMITED', message: /5 requests per minute/ })
  const retryAfter = Number(limited.headers.get('retry-after'))
  t.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After: ${retryAfter} s`)
  t.match(Object.fromEntries(limited.headers), SECURITY_HEADERS, 'a 429 carries the security headers too')
  t.equal((await app.request('POST', '/api/products', { name: 'x' }, a)).status, 429, 'writes are limited alike')

  t.equal((await app.request('GET', '/api/plugins', undefined, b)).status, 200, 'another key has its own budget')

  // without a valid key the budget is the client IP's, and refused attempts spend it
  for (let i = 0; i < 5; i++) t.equal((await app.request('GET', '/api/plugins', undefined, { authorization: `Bearer guess-${i}` })).status, 401)
  t.match(await app.request('GET', '/api/plugins', undefined, { authorization: 'Bearer guess-6' }), { status: 429, body: { code: 'RATE_LIMITED' } }, 'guessing keys is throttled')
  t.equal((await app.request('GET', '/api/plugins')).status, 429, 'and so is the same IP without a key')
  t.equal((await app.request('GET', '/api/plugins', undefined, b)).status, 200, 'while a valid key still works from that IP')
})

t.test('RATE_LIMIT_PER_MINUTE=0 turns the limit off', async (t) => {
  const app = await startApp(t, { RELAY: 'off', RATE_LIMIT_PER_MINUTE: '0' })
  for (let i = 0; i < 30; i++) {
    const res = await app.request('GET', '/api/event-types')
    if (res.status !== 200 || res.headers.has('x-ratelimit-limit')) t.fail(`request ${i}: ${res.status}`)
  }
  t.pass('30 requests, no limit')
})

t.test('every response carries the security headers: successes, errors, 404s, 413s', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const responses = {
    '200': await app.request('GET', '/api/plugins'),
    '201': await app.request('POST', '/api/products', { name: 'x' }),
    '204': await app.request('DELETE', `/api/products/${(await app.request('POST', '/api/products', { name: 'y' })).body.id}`),
    '400': await app.request('POST', '/api/products', { name: 7 }),
    '401': await app.request('GET', '/api/plugins', undefined, { authorization: 'Bearer nope' }),
    '404': await app.request('GET', '/nowhere'),
    '413': await app.request('POST', '/api/products', JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) })),
    health: await app.request('GET', '/health'),
  }
  for (const [name, res] of Object.entries(responses)) {
    if (/^\d+$/.test(name)) t.equal(res.status, Number(name), `${name}: status`)
    t.match(Object.fromEntries(res.headers), SECURITY_HEADERS, `${name}: security headers`)
    t.match(res.headers.get('strict-transport-security'), /max-age=\d+/)
  }
  t.match(responses['413'].body, { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }, 'an oversized body is a JSON 413 with a code')
})

t.test('a route can bring its own Content-Security-Policy (an HTML page), and keeps the other headers', async (t) => {
  const app = Fastify()
  await app.register(securityHeaders)
  app.get('/page', { config: { csp: "default-src 'self'" } }, async (_request, reply) => reply.type('text/html').send('<h1>hi</h1>'))
  app.get('/own', async (_request, reply) => reply.header('content-security-policy', "script-src 'self'").header('cache-control', 'max-age=60').send({}))
  app.get('/api', async () => ({ ok: true }))
  t.teardown(() => app.close())

  const page = await app.inject('/page')
  t.equal(page.headers['content-security-policy'], "default-src 'self'")
  t.equal(page.headers['x-frame-options'], 'DENY')
  const own = await app.inject('/own')
  t.same([own.headers['content-security-policy'], own.headers['cache-control']], ["script-src 'self'", 'max-age=60'], 'headers the route set win')
  t.equal((await app.inject('/api')).headers['content-security-policy'], API_CSP)
})
