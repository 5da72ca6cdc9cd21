import fc from 'fast-check'
import t from 'tap'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { rowCounts } from './helpers/db.ts'
import { startApp, type TestApp } from './helpers/app.ts'
import { valueArbitrary, type Schema, type Vocabulary } from './helpers/schema-arbitrary.ts'

/**
 * Errors a person can act on: a schema failure names the field, what was given
 * and what is allowed, in words, with `details: [{field, in, problem, allowed?}]`.
 * The table is made from /openapi.json: every enum and every pattern of every
 * route's body, query and path, so a route added later is covered as it is.
 */

type Rule = { kind: 'enum'; allowed: unknown[] } | { kind: 'pattern'; pattern: string; schema: Schema }
interface Case {
  operation: string
  method: string
  path: string
  in: 'body' | 'query' | 'path'
  /** where the value sits, as the error names it: `status`, `addresses[0].country` */
  field: string
  steps: (string | number)[]
  rule: Rule
}

/** The values a schema allows when they are a closed set (enum, const, a union of them), else undefined. */
function closedSet(schema: Schema): unknown[] | undefined {
  if (schema.const !== undefined) return [schema.const]
  if (Array.isArray(schema.enum)) return schema.enum
  if (schema.type === 'null') return [null]
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  const sets = alternatives?.map(closedSet)
  return sets && sets.every((s) => s !== undefined) ? sets.flat() : undefined
}

/** Every enum and pattern under a schema, with the steps that reach it. */
function rulesOf(schema: Schema, steps: (string | number)[] = []): { steps: (string | number)[]; rule: Rule }[] {
  const allowed = closedSet(schema)
  // a union of one value and null is a nullable constant, not a choice worth a case
  if (allowed && allowed.filter((v) => v !== null).length > 1) return [{ steps, rule: { kind: 'enum', allowed } }]
  if (allowed) return []
  const found: { steps: (string | number)[]; rule: Rule }[] = []
  for (const alternative of (schema.anyOf ?? schema.oneOf ?? []) as Schema[]) found.push(...rulesOf(alternative, steps))
  if (schema.type === 'string' && schema.pattern) found.push({ steps, rule: { kind: 'pattern', pattern: schema.pattern, schema } })
  for (const [name, property] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) found.push(...rulesOf(property, [...steps, name]))
  if (schema.type === 'array' && schema.items) found.push(...rulesOf(schema.items, [...steps, 0]))
  return found
}

const fieldOf = (steps: (string | number)[]) =>
  steps.reduce<string>((name, step) => (typeof step === 'number' ? `${name}[${step}]` : name ? `${name}.${step}` : step), '')

/** A value the pattern refuses and the length bounds allow, so the pattern is what fails. */
function breaking(rule: Extract<Rule, { kind: 'pattern' }>): string {
  const regex = new RegExp(rule.pattern)
  const { minLength = 0, maxLength = Infinity } = rule.schema
  const candidate = ['ftp://example.com/x', 'Not Valid!', 'a b', '!!', '--', '-', '1'].find(
    (c) => !regex.test(c) && c.length >= minLength && c.length <= maxLength,
  )
  if (!candidate) throw new Error(`no value breaks ${rule.pattern} within its length bounds`)
  return candidate
}

// no network: every request here is refused by validation before anything could be sent
const vocabulary: Vocabulary = { url: () => 'https://hooks.example.com/x', uuids: () => [], words: () => [], named: () => [] }
const sample = (schema: Schema) => fc.sample(valueArbitrary(schema, vocabulary), { seed: 17, numRuns: 1 })[0]

/** The body example with `value` at `steps`, filling what is missing on the way with valid values of its schema. */
function bodyWith(schema: Schema, example: unknown, steps: (string | number)[], value: unknown): unknown {
  const root = structuredClone(example ?? {}) as Record<string | number, unknown>
  let node: Record<string | number, unknown> = root
  let nodeSchema = schema
  steps.forEach((step, i) => {
    const childSchema = (typeof step === 'number' ? nodeSchema.items : nodeSchema.properties?.[step]) as Schema
    if (i === steps.length - 1) {
      node[step] = value
      return
    }
    // an object alternative of a union, when the step goes into one
    const container = (childSchema.anyOf ?? childSchema.oneOf ?? [childSchema]).find((s: Schema) => s.type === 'object' || s.type === 'array') ?? childSchema
    if (node[step] === undefined || node[step] === null || typeof node[step] !== 'object') node[step] = sample(container)
    if (Array.isArray(node[step]) && (node[step] as unknown[]).length === 0) node[step] = [sample(container.items)]
    node = node[step] as Record<string | number, unknown>
    nodeSchema = container
  })
  return root
}

t.test('every enum and pattern of every route answers a 400 naming the field, what was given and what is allowed', async (t) => {
  const app: TestApp = await startApp(t, { RELAY: 'off', AUTH: 'required', RATE_LIMIT_PER_MINUTE: '0' })
  const admin = await createApiKey(app.database.db, DEFAULT_TENANT, { name: 'table', admin: true, operator: true })
  const headers = { authorization: `Bearer ${admin.key}` }
  const doc = (await app.request('GET', '/openapi.json')).body

  const cases: Case[] = []
  const examples = new Map<string, { body?: unknown; params: Record<string, unknown>; bodySchema?: Schema }>()
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(item)) {
      const operation = `${method.toUpperCase()} ${path}`
      const media = op.requestBody?.content?.['application/json']
      const params: Record<string, unknown> = {}
      for (const p of op.parameters ?? []) if (p.in === 'path') params[p.name] = p.example ?? 'x'
      examples.set(operation, { body: media?.example, params, bodySchema: media?.schema })
      for (const p of (op.parameters ?? []) as { name: string; in: string; schema: Schema }[]) {
        if (p.in !== 'query' && p.in !== 'path') continue
        for (const { rule } of rulesOf(p.schema)) cases.push({ operation, method: method.toUpperCase(), path, in: p.in as 'query' | 'path', field: p.name, steps: [p.name], rule })
      }
      if (media?.schema) {
        for (const { steps, rule } of rulesOf(media.schema)) cases.push({ operation, method: method.toUpperCase(), path, in: 'body', field: fieldOf(steps), steps, rule })
      }
    }
  }
  const enums = cases.filter((c) => c.rule.kind === 'enum').length
  const patterns = cases.length - enums
  t.ok(enums >= 8 && patterns >= 6, `${enums} enums and ${patterns} patterns, from ${new Set(cases.map((c) => c.operation)).size} operations`)

  const before = await rowCounts(app.database.db)
  const needsOther = new Set<string>()
  let checked = 0
  for (const c of cases) {
    const { body, params, bodySchema } = examples.get(c.operation)!
    const value = c.rule.kind === 'enum' ? 'not-one-of-these' : breaking(c.rule)
    let url = c.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(String(c.in === 'path' && name === c.field ? value : params[name])))
    if (c.in === 'query') url += `?${c.field}=${encodeURIComponent(value)}`
    const sent = c.in === 'body' ? bodyWith(bodySchema!, body, c.steps, value) : body
    const res = await app.request(c.method, url, sent, headers)
    const label = `${c.operation} ${c.in} ${c.field} (${c.rule.kind})`
    // a developer's or an app's route refuses a store's key before it reads the request
    if (res.status === 401 || res.status === 403) {
      needsOther.add(c.operation)
      continue
    }
    checked++
    t.equal(res.status, 400, `${label}: 400`)
    t.equal(res.body.code, 'VALIDATION_ERROR', `${label}: code VALIDATION_ERROR, as before`)
    const detail = res.body.details?.[0]
    t.match(detail, { field: c.field, in: c.in, problem: String }, `${label}: details name the field`)
    t.match(res.body.message, new RegExp(`^${c.field.replace(/[[\].]/g, '\\$&')} `), `${label}: the message starts with the field`)
    t.match(res.body.message, /got "(not-one-of-these|ftp:|Not Valid|a b|!!|--|-|1)/, `${label}: and says what was given`)
    if (c.rule.kind === 'enum') {
      t.same(detail?.allowed, c.rule.allowed, `${label}: details list what is allowed`)
      t.match(res.body.message, `must be one of: ${c.rule.allowed.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}`, `${label}: and so does the message`)
    } else {
      t.notMatch(res.body.message, c.rule.pattern, `${label}: the pattern is said in words, not as a regular expression`)
    }
  }
  t.ok(checked >= 18, `${checked} enums and patterns checked`)
  if (needsOther.size > 0) t.comment(`not reached with a store's key (another principal's route): ${[...needsOther].join(', ')}`)
  t.same(await rowCounts(app.database.db), before, 'nothing was written')
})

t.test('the messages the first hour meets, said so a person can act on them', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const plugin = { name: 'P', slug: 'p', webhook_url: 'https://hooks.example.com/x', events: ['product.created'] }

  const stopped = await app.request('POST', '/api/plugins', { ...plugin, status: 'stopped' })
  t.match(stopped.body, {
    statusCode: 400,
    code: 'VALIDATION_ERROR',
    message: 'status must be one of: active, paused; got "stopped"',
    details: [{ field: 'status', in: 'body', allowed: ['active', 'paused'] }],
  })

  const javascript = await app.request('POST', '/api/plugins', { ...plugin, webhook_url: 'javascript:alert(1)' })
  t.match(javascript.body, { code: 'VALIDATION_ERROR', message: /^webhook_url must be an http or https URL/, details: [{ field: 'webhook_url' }] })

  const port = await app.request('POST', '/api/plugins', { ...plugin, webhook_url: 'https://example.com:99999/x' })
  t.match(port.body, { statusCode: 400, code: 'VALIDATION_ERROR', message: /^webhook_url must be an http or https URL; got "https:\/\/example\.com:99999\/x"/ }, 'port 99999 is invalid, not unsafe')

  const test = await app.request('POST', '/api/plugins', { ...plugin, events: ['product.created', 'plugin.test'] })
  t.match(test.body, {
    statusCode: 400,
    code: 'UNKNOWN_EVENT',
    message: /^plugin\.test is not subscribable: it is sent only by POST \/api\/plugins\/\{slug\}\/test/,
    details: [{ field: 'events[1]', problem: /not subscribable/, allowed: Array }],
  })
  t.notOk(test.body.details[0].allowed.includes('plugin.test'), 'and what may be listed instead leaves it out')

  const missing = await app.request('POST', '/api/plugins', { name: 'P', slug: 'p', events: ['product.created'] })
  t.match(missing.body, { message: 'webhook_url is required', details: [{ field: 'webhook_url', problem: 'is required' }] })

  const unknown = await app.request('POST', '/api/plugins', { ...plugin, colour: 'red' })
  t.match(unknown.body, { message: /^colour is not a field here; known: name, slug, webhook_url/, details: [{ field: 'colour', allowed: Array }] })

  const policy = await app.request('POST', '/api/plugins', { ...plugin, retry_policy: { max_retries: 99 } })
  t.match(policy.body, { message: 'retry_policy.max_retries must be at most 15; got 99' }, 'the alternative the value was meant for is the one that speaks')

  const limit = await app.request('GET', '/api/products?limit=0')
  t.match(limit.body, { message: 'limit must be at least 1; got 0', details: [{ field: 'limit', in: 'query' }] })

  const big = await app.request('POST', '/api/products', { name: 'n'.repeat(300) })
  t.match(big.body, { message: 'name must be at most 255 characters long; got a string of 300 characters' }, 'a long value is described, not echoed')

  const secret = await app.request('POST', '/api/plugins/p/secret/rotate', { secret: 's'.repeat(300) })
  t.notMatch(JSON.stringify(secret.body), /sssss/, 'a secret is never repeated back')
})

t.test('a known path with another method is a 405 that lists the methods in Allow', async (t) => {
  const app = await startApp(t, { RELAY: 'off' })
  const patch = await app.request('PATCH', '/api/plugins')
  t.equal(patch.status, 405)
  t.equal(patch.headers.get('allow'), 'GET, HEAD, POST')
  t.match(patch.body, { statusCode: 405, error: 'Method Not Allowed', code: 'METHOD_NOT_ALLOWED', message: /PATCH is not allowed on \/api\/plugins; allowed: GET, HEAD, POST/ })

  const post = await app.request('POST', '/api/products/12345678-1234-1234-1234-123456789012')
  t.equal(post.status, 405, 'a parameter path too')
  t.equal(post.headers.get('allow'), 'DELETE, GET, HEAD, PATCH, PUT')

  const nowhere = await app.request('GET', '/api/nowhere')
  t.match(nowhere, { status: 404, body: { code: 'ROUTE_NOT_FOUND' } }, 'a path that exists with no method is still a 404')
})
