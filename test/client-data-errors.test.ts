import Fastify from 'fastify'
import t from 'tap'
import { registerErrorHandler } from '../src/errors.ts'
import { encodeCursor } from '../src/db/keyset.ts'
import { rowCounts } from './helpers/db.ts'
import { startApp } from './helpers/app.ts'

/**
 * What PostgreSQL cannot store or read is the client's input, so it is a 400
 * that names the field — caught before SQL where a rule can say it, and mapped
 * from the database's data errors (SQLSTATE class 22) where one slipped by.
 */

t.test('text PostgreSQL cannot store is a 400 naming the field, in bodies, path and query, and writes nothing', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const created = await app.request('POST', '/api/plugins', { name: 'P', slug: 'p', webhook_url: 'https://hooks.example.com/x', events: ['product.created'] })
  t.equal(created.status, 201)
  const product = (await app.request('POST', '/api/products', { name: 'Lamp', inventory_quantity: 5 })).body
  const customer = (await app.request('POST', '/api/customers', { email: 'ann@example.com' })).body
  const order = (await app.request('POST', '/api/orders', { customer_id: customer.id, items: [{ product_id: product.id, quantity: 1 }] })).body
  const before = await rowCounts(app.database.db)

  const cases: [string, string, unknown, string, string][] = [
    // the three, as curl sent them
    ['POST', '/api/products', '{"name":"a\\u0000b"}', 'name', 'body'],
    ['GET', '/api/plugins/%00', undefined, 'slug', 'path'],
    ['GET', '/api/plugins/events?plugin=%00', undefined, 'plugin', 'query'],
    // and where else text is stored: jsonb values and keys, lists, nested objects, a reason
    ['POST', '/api/plugins', '{"name":"P2","slug":"p2","webhook_url":"https://hooks.example.com/x","events":["product.created"],"config":{"k":"\\u0000"}}', 'config.k', 'body'],
    ['PATCH', '/api/plugins/p', '{"metadata":{"a\\u0000":1}}', 'metadata', 'body'],
    ['POST', '/api/products', '{"name":"x","tags":["ok","\\u0000"]}', 'tags[1]', 'body'],
    ['POST', '/api/customers', '{"email":"b@example.com","addresses":[{"line1":"\\u0000","country":"US"}]}', 'addresses[0].line1', 'body'],
    ['POST', `/api/orders/${order.id}/cancel`, '{"reason":"\\u0000"}', 'reason', 'body'],
    ['GET', '/api/customers?email=a%00b', undefined, 'email', 'query'],
    ['GET', `/api/products/${product.id}%00`, undefined, 'id', 'path'],
    // half a surrogate pair is no character: stored as U+FFFD in text, refused by jsonb
    ['POST', '/api/products', '{"name":"\\ud800"}', 'name', 'body'],
    ['PUT', '/api/plugins/p', '{"config":{"k":"x\\udfff"}}', 'config.k', 'body'],
  ]
  for (const [method, url, body, field, where] of cases) {
    const res = await app.request(method, url, body, body === undefined ? {} : { 'content-type': 'application/json' })
    const label = `${method} ${url.slice(0, 50)} ${String(body ?? '').slice(0, 40)}`
    t.equal(res.status, 400, `${label}: 400, not 500`)
    t.match(res.body, { code: 'VALIDATION_ERROR', message: new RegExp(`^${field.replace(/[[\].]/g, '\\$&')} must not`), details: [{ field, in: where }] }, `${label}: names ${field}`)
  }
  t.same(await rowCounts(app.database.db), before, 'nothing was written')
})

t.test('out-of-range dates are refused before SQL: a forged keyset cursor and a recovery since year 0', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  await app.request('POST', '/api/plugins', { name: 'P', slug: 'p', webhook_url: 'https://hooks.example.com/x', events: ['product.created'] })
  const id = '12345678-1234-1234-1234-123456789012'
  const forged = (text: string) => Buffer.from(text).toString('base64url')
  for (const list of ['/api/products', '/api/customers', '/api/orders']) {
    for (const cursor of [forged(`1|${id}`), forged(`0000-01-01T00:00:00.000Z|${id}`), forged(`99999-01-01T00:00:00.000Z|${id}`), forged(`2024-02-30T00:00:00.000Z|${id}`)]) {
      const res = await app.request('GET', `${list}?cursor=${cursor}`)
      t.match(res, { status: 400, body: { code: 'INVALID_CURSOR' } }, `${list}: ${Buffer.from(cursor, 'base64url').toString()}`)
    }
    const real = encodeCursor({ created_at: new Date('2024-01-15T10:30:00.000Z'), id })
    t.equal((await app.request('GET', `${list}?cursor=${real}`)).status, 200, `${list}: a cursor this API makes still pages`)
  }
  for (const since of ['0000-01-01T00:00:00Z', '2024-13-01T00:00:00Z', '2024-02-30T00:00:00Z']) {
    const res = await app.request('POST', '/api/plugins/p/recover', { since })
    t.match(res, { status: 400, body: { code: 'VALIDATION_ERROR', details: [{ field: 'since', in: 'body' }] } }, `recover since ${since}`)
  }
  t.equal((await app.request('POST', '/api/plugins/p/recover', { since: '0001-01-01T00:00:00Z' })).status, 200, 'year 1 is a year')
  t.equal((await app.request('GET', '/api/plugins/events?before=99999999999999999999')).status, 400, 'an id past 2^53 is refused, not sent as bigint')
})

t.test('every PostgreSQL data error (class 22) is a 400 INVALID_INPUT naming the input it quotes; its text stays in the log', async (t) => {
  const app = Fastify({ logger: false })
  registerErrorHandler(app)
  let thrown: Error = new Error()
  app.post('/boom', async () => {
    throw thrown
  })
  const pg = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'ERROR', routine: 'DateTimeParseError' })
  const cases: [string, string, unknown, string][] = [
    ['22007', 'invalid input syntax for type timestamp with time zone: "1"', { cursor: '1' }, 'cursor is not a date or time the database can read'],
    ['22008', 'date/time field value out of range: "0000-01-01T00:00:00Z"', { since: '0000-01-01T00:00:00Z' }, 'since is a date or time out of range'],
    ['22P05', 'unsupported Unicode escape sequence', { name: 'x' }, 'A value in the request contains a character that cannot be stored'],
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00', { name: 'x' }, 'A value in the request contains a character that cannot be stored'],
    ['22003', 'value "99999999999999999999" is out of range for type bigint', { before: '99999999999999999999' }, 'before is a number out of range'],
    ['22P02', 'invalid input syntax for type uuid: "nope"', { items: [{ product_id: 'nope' }] }, 'items[0].product_id is not valid for its type'],
    ['22001', 'value too long for type character varying(100)', { name: 'x' }, 'A value in the request is too long'],
    ['22012', 'division by zero', {}, 'A value in the request is not a value the database accepts'],
  ]
  for (const [code, text, body, message] of cases) {
    thrown = pg(code, text)
    const res = await app.inject({ method: 'POST', url: '/boom', payload: body as object })
    t.equal(res.statusCode, 400, `${code}: 400`)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', code: 'INVALID_INPUT', message }, `${code}: ${message}`)
    t.notMatch(res.body, /syntax|UTF8|escape|character varying|bigint|DateTime/, `${code}: the database's words stay in the log`)
  }
  thrown = pg('22008', 'date/time field value out of range: "0000-01-01T00:00:00Z"')
  const named = await app.inject({ method: 'POST', url: '/boom', payload: { since: '0000-01-01T00:00:00Z' } })
  t.same(named.json().details, [{ field: 'since', problem: 'is a date or time out of range' }], 'details name the field too')
  await app.close()
})
