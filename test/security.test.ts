import t from 'tap'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { startApp } from './helpers/app.ts'

const TENANT = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'

t.test('an unmatched URL spends the same rate-limit budget as a route, with a bad key or a good one', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required', RATE_LIMIT_PER_MINUTE: '5' })
  const { key } = await createApiKey(app.database.db, TENANT, {})

  // the review's probe: a bad key on a path no route has
  const statuses: number[] = []
  for (let i = 0; i < 8; i++) statuses.push((await app.request('GET', `/nope/${i}`, undefined, { authorization: `Bearer guess-${i}` })).status)
  t.same(statuses, [401, 401, 401, 401, 401, 429, 429, 429], 'five refusals, then throttled')
  const limited = await app.request('GET', '/nope', undefined, { authorization: 'Bearer guess' })
  t.match(limited.body, { statusCode: 429, code: 'RATE_LIMITED' })
  t.ok(Number(limited.headers.get('retry-after')) > 0, 'with Retry-After')
  t.equal((await app.request('GET', '/api/plugins')).status, 429, 'the IP budget is one, matched or not')

  // a valid key: unmatched and matched requests draw on the key's one budget
  const auth = { authorization: `Bearer ${key}` }
  const mixed: number[] = []
  for (const path of ['/nope', '/api/plugins', '/api/nope', '/api/plugins', '/x', '/api/plugins'])
    mixed.push((await app.request('GET', path, undefined, auth)).status)
  t.same(mixed, [404, 200, 404, 200, 404, 429])
})
