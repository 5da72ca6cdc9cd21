import t from 'tap'
import Fastify from 'fastify'
import { AppError, registerErrorHandler } from '../src/errors.ts'

async function appThrowing(error: unknown) {
  const app = Fastify({ logger: false })
  registerErrorHandler(app)
  app.get('/boom', async () => {
    throw error
  })
  return app
}

t.test('an unexpected error is a 500 whose text never reaches the client', async (t) => {
  const app = await appThrowing(new Error('secret internals at /srv/app.ts:42'))
  const res = await app.inject('/boom')
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error', code: 'INTERNAL_ERROR' })
  t.notMatch(res.body, /secret internals|app\.ts/)
})

t.test('a domain error keeps its status, code and message', async (t) => {
  const app = await appThrowing(new AppError(409, 'SLUG_TAKEN', 'taken'))
  const res = await app.inject('/boom')
  t.same(res.json(), { statusCode: 409, error: 'Conflict', message: 'taken', code: 'SLUG_TAKEN' })
})

t.test('a database that cannot be reached is a 503 with Retry-After, not a 500', async (t) => {
  const app = await appThrowing(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))
  const res = await app.inject('/boom')
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
  t.equal(res.json().code, 'SERVICE_UNAVAILABLE')
  t.notMatch(res.body, /5432/)
})

t.test('a client-provoked Postgres error (malformed input) is a 400', async (t) => {
  const app = await appThrowing(Object.assign(new Error('invalid input syntax for type uuid: "x"'), { code: '22P02' }))
  const res = await app.inject('/boom')
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'INVALID_INPUT')
  t.notMatch(res.body, /uuid/)
})
