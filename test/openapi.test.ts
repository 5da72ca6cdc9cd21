import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import t from 'tap'
import { ROUTE_DOCS } from '../src/docs/route-docs.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { startApp } from './helpers/app.ts'
import { registeredRoutes } from './helpers/routes.ts'

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

/** Routes that are served but are not API: Swagger UI's own pages and assets, and the dashboard's assets. */
const UNDOCUMENTED = /^GET \/(docs|dashboard\/)/

const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

type Operation = {
  operationId: string
  summary?: string
  tags?: string[]
  requestBody?: { content: Record<string, { schema: object; example?: unknown }> }
  responses: Record<string, { description: string; content?: Record<string, { schema: object; example?: unknown }> }>
  parameters?: { name: string; in: string; schema: object; example?: unknown }[]
}

t.test('the OpenAPI document is valid OpenAPI 3.1 and documents every registered route, with examples that its own schemas accept', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const res = await app.request('GET', '/openapi.json')
  t.equal(res.status, 200)
  const doc = res.body
  t.equal(doc.openapi, '3.1.0')

  const validator = new Validator()
  const result = await validator.validate(structuredClone(doc))
  t.same(result.errors ?? [], [], 'a real OpenAPI validator finds no error')
  t.ok(result.valid, 'and calls the document valid')

  const routes = registeredRoutes(app.app)
  const served = routes.filter((route) => !UNDOCUMENTED.test(route))
  t.ok(served.length >= 20, `${served.length} routes to document`)
  const missing = served.filter((route) => {
    const [method, url] = route.split(' ') as [string, string]
    return !doc.paths[toOpenApiPath(url)]?.[method.toLowerCase()]
  })
  t.same(missing, [], 'every registered route is in the document')
  t.same(
    served.filter((route) => !(route in ROUTE_DOCS)),
    [],
    'every route has its summary in src/docs/route-docs.ts',
  )
  t.same(
    Object.keys(ROUTE_DOCS).filter((route) => !routes.includes(route)),
    [],
    'and route-docs.ts documents no route that does not exist',
  )

  // every operation, checked; what is wrong is collected, so one failure lists all of it
  const ajv = new Ajv2020({ strict: false })
  addFormats(ajv)
  const problems: string[] = []
  const check = (ok: unknown, problem: string) => {
    if (!ok) problems.push(problem)
  }
  const ids = new Set<string>()
  let examples = 0
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
    for (const [method, op] of Object.entries(item)) {
      const name = `${method.toUpperCase()} ${path}`
      const isPublic = Array.isArray((op as { security?: unknown[] }).security)
      check(op.summary, `${name}: no summary`)
      check(op.tags?.length === 1, `${name}: no tag`)
      ids.add(op.operationId)
      const statuses = Object.keys(op.responses)
      check(statuses.some((s) => /^2\d\d$/.test(s)), `${name}: no success response`)
      check(statuses.includes('429'), `${name}: no 429`)
      if (!isPublic) check(statuses.includes('401'), `${name}: no 401`)
      if (path.includes('{')) check(statuses.includes('404'), `${name}: no 404`)
      if (op.requestBody || op.parameters?.length) check(statuses.includes('400'), `${name}: no 400`)
      // what every route can answer before its handler runs
      check(statuses.includes('414') && statuses.includes('431'), `${name}: no 414 or 431`)
      // a store's POST takes an Idempotency-Key (a developer's or an app's own route does not: src/http/idempotency.ts)
      if (method === 'post' && !/^\/api\/(apps|developer|app\/)/.test(path)) {
        check(op.parameters?.some((p) => p.name === 'idempotency-key' && p.in === 'header'), `${name}: no Idempotency-Key`)
      }
      if (op.parameters?.some((p) => p.name === 'idempotency-key')) {
        check(statuses.includes('409') && statuses.includes('422'), `${name}: no 409 or 422 for a reused Idempotency-Key`)
      }
      if (['post', 'put', 'patch', 'delete'].includes(method)) check(statuses.includes('415'), `${name}: no 415 (Fastify parses a body on ${method})`)
      for (const parameter of op.parameters ?? []) {
        const withDefault = (parameter.schema as { default?: unknown }).default !== undefined
        check(!(withDefault && (parameter as { required?: boolean }).required), `${name}: ${parameter.name} has a default, so it is not required`)
      }
      for (const [status, response] of Object.entries(op.responses)) {
        for (const [type, media] of Object.entries(response.content ?? {})) {
          check(media.example !== undefined || !/^2/.test(status), `${name} ${status} ${type}: no example`)
          if (media.example === undefined || !type.includes('json')) continue
          examples++
          check(ajv.validate(media.schema, media.example), `${name} ${status}: example refused by its schema: ${ajv.errorsText()}`)
          if (/^[45]/.test(status) && !path.startsWith('/health')) {
            const example = media.example as { statusCode: number; code: string }
            check(example.statusCode === Number(status), `${name} ${status}: the error example has another status`)
            check(response.description.includes(`\`${example.code}\``), `${name} ${status}: the description does not name ${example.code}`)
          }
        }
      }
      const body = op.requestBody?.content['application/json']
      if (body) {
        check(body.example !== undefined, `${name}: no request body example`)
        if (body.example !== undefined) {
          examples++
          check(ajv.validate(body.schema, body.example), `${name}: body example refused by its schema: ${ajv.errorsText()}`)
        }
      }
      for (const parameter of op.parameters ?? []) {
        if (parameter.example === undefined) continue
        examples++
        check(ajv.validate(parameter.schema, parameter.example), `${name} ${parameter.in} ${parameter.name}: example refused: ${ajv.errorsText()}`)
      }
    }
  }
  t.same(problems, [], 'every operation has a summary, its responses and errors, and examples its schemas accept')
  t.ok(examples >= 100, `${examples} examples checked against their schemas`)
  t.equal(ids.size, served.length, 'every operation has its own operationId')

  // a few the spec's readers will look for
  t.match(doc.paths['/api/plugins'].post.responses['409'].description, /SLUG_TAKEN/)
  t.match(doc.paths['/api/plugins'].post.requestBody.content['application/json'].example, { slug: 'my-analytics', events: Array })
  t.match(doc.paths['/api/plugins/{slug}'].get.parameters, [{ name: 'slug', in: 'path', required: true }])
  t.ok(doc.paths['/api/plugins/events/stream'].get.responses['200'].content['text/event-stream'], 'the stream is documented as SSE')
  t.match(doc.paths['/api/plugins/events/stream'].get.parameters, [{ name: 'plugin' }, { name: 'event' }, { name: 'last-event-id', in: 'header' }])
  t.same(doc.paths['/health'].get.security, [], '/health needs no key')
  t.same(doc.paths['/health/ready'].get.security, [], '/health/ready needs no key')
})

t.test('the interactive docs are served from this server, need no key, and may run their own scripts only', async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required' })
  t.equal((await app.request('GET', '/api/plugins')).status, 401, 'the API wants a key')
  const page = await app.request('GET', '/docs')
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /text\/html/)
  t.match(page.body, /swagger-ui-bundle\.js/)
  const csp = page.headers.get('content-security-policy') ?? ''
  t.match(csp, /script-src 'self'(;|$)/, 'scripts from this origin only')
  t.notMatch(/script-src[^;]*/.exec(csp)?.[0], /unsafe|https?:/, 'no inline script, nothing remote')
  t.notMatch(csp, /https?:|\*/, 'nothing from another origin')
  const bundle = await app.request('GET', '/docs/static/swagger-ui-bundle.js')
  t.equal(bundle.status, 200, 'Swagger UI itself is self-hosted')
  const json = await app.request('GET', '/openapi.json')
  t.equal(json.status, 200, 'the document needs no key')
  t.same(json.body.security, [{ bearerAuth: [] }], 'and says that the API does')

  const admin = await createApiKey(app.database.db, '11111111-1111-1111-1111-111111111111', { admin: true })
  const other = await app.request('GET', '/docs/json', undefined, { authorization: `Bearer ${admin.key}` })
  t.same(other.body.paths, json.body.paths, "Swagger UI's copy is the same document")
})
