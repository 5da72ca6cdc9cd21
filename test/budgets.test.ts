import http from 'node:http'
import { sql } from 'kysely'
import t from 'tap'
import { createApiKey, revokeApiKey } from '../src/keys/api-key.repository.ts'
import { startApp } from './helpers/app.ts'
import { rowCounts } from './helpers/db.ts'
import { openStream } from './helpers/sse.ts'
import { waitFor } from './helpers/wait.ts'

const TENANT_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'
const TENANT_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
const STREAM = '/api/plugins/events/stream'
const plugin = (slug: string) => ({ name: slug, slug, webhook_url: 'https://hooks.example.com/x', events: ['product.created'] })

t.test('plugins per tenant: beyond MAX_PLUGINS_PER_TENANT a 403 that creates nothing, even when asked all at once', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required', MAX_PLUGINS_PER_TENANT: '3' })
  const a = bearer((await createApiKey(app.database.db, TENANT_A, {})).key)
  const b = bearer((await createApiKey(app.database.db, TENANT_B, {})).key)

  // ten at once from none: the per-tenant lock lets exactly three through
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => app.request('POST', '/api/plugins', plugin(`p${i}`), a)))
  t.equal(results.filter((r) => r.status === 201).length, 3, 'three created')
  const refused = results.filter((r) => r.status !== 201)
  t.ok(refused.every((r) => r.status === 403 && r.body.code === 'PLUGIN_BUDGET_EXCEEDED'), 'the rest are 403 PLUGIN_BUDGET_EXCEEDED')
  t.match(refused[0]!.body, { statusCode: 403, error: 'Forbidden', message: /3 plugins.*MAX_PLUGINS_PER_TENANT/ })
  const before = await rowCounts(app.database.db)
  t.equal((await app.request('POST', '/api/plugins', plugin('more'), a)).status, 403)
  t.same(await rowCounts(app.database.db), before, 'a refused creation changes nothing')

  t.equal((await app.request('POST', '/api/plugins', plugin('other'), b)).status, 201, 'another tenant has its own budget')
  const slug = results.find((r) => r.status === 201)!.body.slug
  t.equal((await app.request('DELETE', `/api/plugins/${slug}`, undefined, a)).status, 204)
  t.equal((await app.request('POST', '/api/plugins', plugin('again'), a)).status, 201, 'a deleted plugin frees its place')
})

t.test('keys per tenant: beyond MAX_KEYS_PER_TENANT live keys a 403; a revoked key frees its place', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required', MAX_KEYS_PER_TENANT: '3' })
  const admin = bearer((await createApiKey(app.database.db, TENANT_A, { admin: true })).key)
  const created = await Promise.all(Array.from({ length: 5 }, () => app.request('POST', '/api/keys', { name: 'k' }, admin)))
  t.same(created.map((r) => r.status).sort(), [201, 201, 403, 403, 403], 'the admin key and two more')
  t.match(created.find((r) => r.status === 403)!.body, { code: 'KEY_BUDGET_EXCEEDED', message: /3 live API keys.*MAX_KEYS_PER_TENANT/ })
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from api_keys where tenant_id = ${TENANT_A}`.execute(app.database.db)
  t.equal(rows[0]!.n, 3, 'no key beyond the budget was stored')
  t.equal((await app.request('DELETE', `/api/keys/${created.find((r) => r.status === 201)!.body.id}`, undefined, admin)).status, 204)
  t.equal((await app.request('POST', '/api/keys', {}, admin)).status, 201, 'revoking one frees its place')
})

t.test('live streams per key and per tenant: beyond either budget a 429; a closed stream frees its place', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required', MAX_STREAMS_PER_KEY: '2', MAX_STREAMS_PER_TENANT: '3' })
  const a1 = bearer((await createApiKey(app.database.db, TENANT_A, {})).key)
  const a2 = bearer((await createApiKey(app.database.db, TENANT_A, {})).key)
  const b = bearer((await createApiKey(app.database.db, TENANT_B, {})).key)

  const first = await openStream(t, app.url + STREAM, a1)
  const second = await openStream(t, app.url + STREAM, a1)
  const perKey = await app.request('GET', STREAM, undefined, a1)
  t.match(perKey, { status: 429, body: { statusCode: 429, code: 'STREAM_BUDGET_EXCEEDED', message: /MAX_STREAMS_PER_KEY/ } })

  const third = await openStream(t, app.url + STREAM, a2)
  const perTenant = await app.request('GET', STREAM, undefined, a2)
  t.match(perTenant, { status: 429, body: { code: 'STREAM_BUDGET_EXCEEDED', message: /MAX_STREAMS_PER_TENANT/ } })
  const fourth = await openStream(t, app.url + STREAM, b)
  t.pass('another tenant opens its own')

  await first.close()
  // the server notices the closed connection on its own time
  // the server notices the closed connection on its own time; a probe that gets in is aborted at once
  const probe = () =>
    new Promise<boolean>((resolve, reject) => {
      const req = http.get(app.url + STREAM, { headers: a1 }, (res) => {
        req.destroy() // the connection itself, so the server frees the place at once
        resolve(res.statusCode === 200)
      })
      req.on('error', reject)
    })
  await waitFor(probe, { message: 'the closed stream to give its place back' })
  t.pass('a closed stream frees its place')
  await Promise.all([second.close(), third.close(), fourth.close()])
})

t.test("a revoked key's open streams end at once in every process; other keys' streams go on", async (t) => {
  const one = await startApp(t, { RELAY: 'off', AUTH: 'required' })
  const two = await startApp(t, { RELAY: 'off', AUTH: 'required' }, one.database)
  const admin = bearer((await createApiKey(one.database.db, TENANT_A, { admin: true })).key)
  const doomed = await createApiKey(one.database.db, TENANT_A, {})
  const other = await createApiKey(one.database.db, TENANT_A, {})

  const onOne = await openStream(t, one.url + STREAM, bearer(doomed.key))
  const onTwo = await openStream(t, two.url + STREAM, bearer(doomed.key))
  const kept = await openStream(t, two.url + STREAM, bearer(other.key))

  const revokedAt = Date.now()
  t.equal((await one.request('DELETE', `/api/keys/${doomed.row.id}`, undefined, admin)).status, 204)
  await waitFor(() => onOne.ended && onTwo.ended, { message: 'both streams of the revoked key to end' })
  t.comment(`both streams ended ${Date.now() - revokedAt} ms after the revocation`)
  for (const stream of [onOne, onTwo]) t.match(stream.events.at(-1), { event: 'revoked', data: { code: 'API_KEY_REVOKED' } }, 'told why')
  t.notOk(kept.ended, "another key's stream stays open")
  t.equal((await two.request('GET', STREAM, undefined, bearer(doomed.key))).status, 401, 'and the key cannot open another')

  // bin/admin revokes from a process of its own, through the same function
  const late = await openStream(t, two.url + STREAM, bearer(other.key))
  await revokeApiKey(one.database.db, null, other.row.id)
  await waitFor(() => kept.ended && late.ended, { message: 'the streams of a key revoked by the operator to end' })
  t.pass('a revocation from any process ends the streams')
})
