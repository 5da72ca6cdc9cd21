import { Ajv, type ErrorObject, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { fullFormats } from 'ajv-formats/dist/formats.js'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../errors.ts'

// ajv-formats is CommonJS; under NodeNext its callable sits on .default
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

/** Where in the request a field is: the names a client reads in the OpenAPI document. */
export type FieldLocation = 'body' | 'query' | 'path' | 'header'

/** One thing wrong with a request, for a program: which field, what is wrong with it, what it may be. */
export interface FieldProblem {
  field: string
  in: FieldLocation
  problem: string
  allowed?: unknown[]
}

/** A request refused before its handler ran: a 400 VALIDATION_ERROR whose `details` list what is wrong. */
export class RequestValidationError extends AppError {
  constructor(readonly problems: FieldProblem[]) {
    super(400, 'VALIDATION_ERROR', problems.map((p) => `${p.field} ${p.problem}`).join('; '), { details: problems })
  }
}

const LOCATIONS: Record<string, FieldLocation> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' }

/**
 * Patterns said in words: a client reads "must be an http or https URL", not a
 * regular expression. A pattern not listed here is named as it is.
 */
const PATTERN_WORDS: Record<string, string> = {
  '^[hH][tT][tT][pP][sS]?://': 'must be an http or https URL',
  '^[a-z0-9]+(?:-[a-z0-9]+)*$': 'must be lowercase letters and digits, in words joined by single hyphens (like my-plugin)',
  '^[0-9+()./ -]+$': 'must be a phone number: digits, spaces and + ( ) . / -',
  '^[A-Z]{2}$': 'must be a two-letter country code in capitals (ISO 3166-1, like US)',
}

const FORMAT_WORDS: Record<string, string> = {
  uri: 'must be an absolute URL (like https://example.com/hook)',
  uuid: 'must be a UUID (like 12345678-1234-1234-1234-123456789012)',
  'date-time': 'must be a date and time in RFC 3339 (like 2024-01-15T10:30:00Z), year 0001 to 9999',
  email: 'must be an e-mail address',
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'a list',
  null: 'null',
}

/** Fields whose value is never repeated back, not even to the client that sent it. */
const SECRET_FIELDS = /secret|key|password|token|authorization/i

/** What was given, short: a client sees what the server read without its whole 100 KB string echoed. */
function given(value: unknown, field: string): string {
  if (SECRET_FIELDS.test(field)) return ''
  if (value === undefined) return ''
  if (typeof value === 'string') {
    const length = [...value].length
    if (length > 40) return `; got a string of ${length} characters`
    return `; got ${JSON.stringify(value)}`
  }
  if (Array.isArray(value)) return `; got a list of ${value.length}`
  if (value !== null && typeof value === 'object') return '; got an object'
  return `; got ${JSON.stringify(value)}`
}

type Schema = Record<string, any>

/** The values a schema allows, when it is a closed set (enum, const, or a union of them). */
function closedSet(schema: Schema | undefined): unknown[] | undefined {
  if (!schema) return undefined
  if (schema.const !== undefined) return [schema.const]
  if (Array.isArray(schema.enum)) return schema.enum
  if (schema.type === 'null') return [null]
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  if (!alternatives) return undefined
  const sets = alternatives.map(closedSet)
  return sets.every((s) => s !== undefined) ? sets.flat() : undefined
}

/** A schema described in a few words: "an object with max_retries", "a list of integers". */
function describe(schema: Schema): string {
  const set = closedSet(schema)
  if (set) return set.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  if (alternatives) return alternatives.map(describe).join(', or ')
  if (schema.type === 'object' && Array.isArray(schema.required) && schema.required.length > 0) {
    return `an object with ${schema.required.join(' and ')}`
  }
  return TYPE_WORDS[schema.type as string] ?? 'a value'
}

/** `/items/0/quantity` → `items[0].quantity` */
function fieldName(instancePath: string, location: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  let name = ''
  for (const part of parts) name += /^\d+$/.test(part) ? `[${part}]` : name ? `.${part}` : part
  return name || location
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/** One ajv error in words (ajv's `verbose` gives the schema and the data it failed on). */
function problemOf(error: ErrorObject, location: FieldLocation, root: string): FieldProblem {
  const params = error.params as Record<string, any>
  const parent = (error.parentSchema ?? {}) as Schema
  let field = fieldName(error.instancePath, root)
  const child = (name: string) => (field === root ? name : `${field}.${name}`)
  const got = () => given(error.data, field)
  switch (error.keyword) {
    case 'required':
      field = child(params.missingProperty)
      return { field, in: location, problem: 'is required' }
    case 'additionalProperties': {
      field = child(params.additionalProperty)
      const known = Object.keys(parent.properties ?? {})
      const what = location === 'query' ? 'query parameter' : 'field'
      return { field, in: location, problem: `is not a ${what} here${known.length > 0 ? `; known: ${known.join(', ')}` : ''}`, allowed: known }
    }
    case 'enum':
    case 'const':
    case 'anyOf':
    case 'oneOf': {
      const allowed = closedSet(parent)
      if (allowed) return { field, in: location, problem: `must be one of: ${describe(parent)}${got()}`, allowed }
      return { field, in: location, problem: `must be ${describe(parent)}${got()}` }
    }
    case 'type': {
      const types = (Array.isArray(params.type) ? params.type : String(params.type).split(',')) as string[]
      return { field, in: location, problem: `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}${got()}` }
    }
    case 'pattern':
      return { field, in: location, problem: `${PATTERN_WORDS[params.pattern] ?? `must match the pattern ${params.pattern}`}${got()}` }
    case 'format': {
      // a format whose field also has a pattern in words (webhook_url) says the pattern's words
      const words = (parent.pattern && PATTERN_WORDS[parent.pattern]) || FORMAT_WORDS[params.format] || `must be in the ${params.format} format`
      return { field, in: location, problem: `${words}${got()}` }
    }
    case 'minLength':
      return params.limit === 1
        ? { field, in: location, problem: 'must not be empty' }
        : { field, in: location, problem: `must be at least ${plural(params.limit, 'character')} long${got()}` }
    case 'maxLength':
      return { field, in: location, problem: `must be at most ${plural(params.limit, 'character')} long${got()}` }
    case 'minimum':
      return { field, in: location, problem: `must be at least ${params.limit}${got()}` }
    case 'maximum':
      return { field, in: location, problem: `must be at most ${params.limit}${got()}` }
    case 'exclusiveMinimum':
      return { field, in: location, problem: `must be more than ${params.limit}${got()}` }
    case 'exclusiveMaximum':
      return { field, in: location, problem: `must be less than ${params.limit}${got()}` }
    case 'multipleOf':
      return { field, in: location, problem: `must be a multiple of ${params.multipleOf}${got()}` }
    case 'minItems':
      return { field, in: location, problem: `must have at least ${plural(params.limit, 'item')}` }
    case 'maxItems':
      return { field, in: location, problem: `must have at most ${plural(params.limit, 'item')}${got()}` }
    case 'uniqueItems':
      return { field, in: location, problem: `must not repeat an item (items ${params.j} and ${params.i} are the same)` }
    case 'minProperties':
      return {
        field,
        in: location,
        problem: `must have at least ${plural(params.limit, 'field')}${parent.properties ? `; known: ${Object.keys(parent.properties).join(', ')}` : ''}`,
      }
    case 'maxProperties':
      return { field, in: location, problem: `must have at most ${plural(params.limit, 'field')}` }
    default:
      return { field, in: location, problem: error.message ?? 'is invalid' }
  }
}

/** Whether a value is of the type a schema names (no type: any). */
function ofType(schema: Schema, value: unknown): boolean {
  if (schema.const !== undefined) return schema.const === value
  switch (schema.type) {
    case undefined:
      return true
    case 'string':
      return typeof value === 'string'
    case 'integer':
      return Number.isInteger(value)
    case 'number':
      return typeof value === 'number'
    case 'boolean':
      return typeof value === 'boolean'
    case 'null':
      return value === null
    case 'array':
      return Array.isArray(value)
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value)
    default:
      return false
  }
}

/**
 * The error of the one alternative of a union the value was meant for: a string given to `string (pattern) | null`
 * fails the pattern, which says more than "must be a string or null". Failing that, the alternative whose errors
 * lie deepest in the data (it got furthest).
 */
function branchError(union: ErrorObject, errors: ErrorObject[]): ErrorObject | undefined {
  const alternatives = ((union.parentSchema as Schema | undefined)?.[union.keyword] ?? []) as Schema[]
  const of = (i: number) => errors.filter((e) => e.schemaPath.startsWith(`${union.schemaPath}/${i}/`))
  const meant = alternatives.map((schema, i) => [schema, i] as const).filter(([schema]) => ofType(schema, union.data))
  if (meant.length === 1) return of(meant[0]![1])[0]
  const deeper = errors.filter((e) => e.schemaPath.startsWith(`${union.schemaPath}/`) && e.instancePath.length > union.instancePath.length)
  return deeper.at(-1)
}

/**
 * ajv's errors in words, one problem per field. A union (anyOf) reports one
 * error per alternative and then its own: when one alternative got further than
 * the others (its errors lie deeper in the data), its error is the one that
 * helps; otherwise the union's, which names what is allowed.
 */
export function describeSchemaErrors(errors: ErrorObject[], dataVar: string): FieldProblem[] {
  const location = LOCATIONS[dataVar] ?? 'body'
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
  const inside = (e: ErrorObject, union: ErrorObject) => e !== union && e.schemaPath.startsWith(`${union.schemaPath}/`)
  const chosen: ErrorObject[] = []
  for (const error of errors) {
    const union = unions.find((u) => inside(error, u))
    if (union) continue
    if (unions.includes(error)) {
      chosen.push(closedSet(error.parentSchema as Schema) === undefined ? (branchError(error, errors) ?? error) : error)
      continue
    }
    chosen.push(error)
  }
  const problems = chosen.map((e) => problemOf(e, location, location))
  return problems.filter((p, i) => problems.findIndex((q) => q.field === p.field && q.problem === p.problem) === i)
}

/** Fastify's schemaErrorFormatter: "status must be one of: active, paused; got \"stopped\"", with `details`. */
export function formatSchemaErrors(errors: ErrorObject[], dataVar: string): Error {
  return new RequestValidationError(describeSchemaErrors(errors, dataVar))
}

// --- text PostgreSQL cannot store

/** A UTF-16 surrogate without its pair: no character at all, and no UTF-8 for it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** What in a text PostgreSQL's text and jsonb refuse, or null. */
function unstorable(text: string): string | null {
  if (text.includes('\u0000')) return 'the NUL character (U+0000)'
  if (LONE_SURROGATE.test(text)) return 'a lone UTF-16 surrogate (half of a character)'
  return null
}

/** The first string (or object key) in a value that PostgreSQL cannot store, walked without recursion. */
export function findUnstorableText(value: unknown, root: string): { field: string; problem: string } | null {
  const stack: [unknown, string][] = [[value, '']]
  const named = (path: string) => path || root
  while (stack.length > 0) {
    const [item, path] = stack.pop()!
    if (typeof item === 'string') {
      const what = unstorable(item)
      if (what) return { field: named(path), problem: `must not contain ${what}, which cannot be stored` }
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) stack.push([item[i], `${path}[${i}]`])
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        const what = unstorable(key)
        if (what) return { field: named(path), problem: `must not have a key containing ${what}, which cannot be stored` }
        stack.push([child, path ? `${path}.${key}` : key])
      }
    }
  }
  return null
}

/**
 * The request's path parameters, query and body, checked for text that cannot
 * be stored — each where the route declares it: a part the route ignores stores nothing.
 */
function checkStorable(request: FastifyRequest): void {
  const schema = (request.routeOptions.schema ?? {}) as Record<string, unknown>
  const parts: [FieldLocation, unknown, unknown][] = [
    ['path', request.params, schema.params],
    ['query', request.query, schema.querystring],
    ['body', request.body, schema.body],
  ]
  for (const [location, value, declared] of parts) {
    if (!declared) continue
    const found = findUnstorableText(value, location)
    if (found) throw new RequestValidationError([{ field: found.field, in: location, problem: found.problem }])
  }
}

// --- the validators

const base: Options = {
  // Fastify's default silently drops unknown properties; we reject them instead.
  removeAdditional: false,
  useDefaults: true,
  allErrors: false,
  strict: false,
  // errors carry their schema and data: what is allowed and what was given, in the message
  verbose: true,
}

/** RFC 3339 as ajv-formats reads it, and a year PostgreSQL can store: year 0000 is no year to it (1 BC is). */
const rfc3339 = (fullFormats['date-time'] as { validate: (s: string) => boolean }).validate
const dateTime = (text: string): boolean =>
  rfc3339(text) && !/^0000/.test(text) && !Number.isNaN(Date.parse(text))

/** An absolute URI that WHATWG URL (what sends the webhook) also reads: port 99999 is no URL. */
const uri = (text: string): boolean => (fullFormats.uri as (s: string) => boolean)(text) && URL.canParse(text)

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ ...base, ...options })
  addFormats(ajv)
  ajv.addFormat('date-time', { type: 'string', validate: dateTime })
  ajv.addFormat('uri', { type: 'string', validate: uri })
  return ajv
}

/**
 * Bodies are JSON and must carry the right types ("19.99" is not a price);
 * query strings and path params are text and are coerced to the declared types.
 * And for every route, before its schema is checked: no text PostgreSQL cannot
 * store (NUL, lone surrogates) in its path, query or body — a 400 naming the
 * field, instead of the database's error.
 */
export function registerValidation(app: FastifyInstance): void {
  const strict = makeAjv({ coerceTypes: false })
  const coercing = makeAjv({ coerceTypes: 'array' })
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema))
  app.addHook('preValidation', async (request) => checkStorable(request))
}

/**
 * The problems the server would find in a JSON body for `schema`: the same ajv,
 * options and words as a route's validation, for checks made before a request is
 * sent (bin/app publish checks a manifest with the schema POST /api/apps uses).
 */
export function bodyProblems(schema: object, value: unknown): FieldProblem[] {
  const validate = makeAjv({ coerceTypes: false }).compile(schema)
  return validate(value) ? [] : describeSchemaErrors(validate.errors ?? [], 'body')
}
