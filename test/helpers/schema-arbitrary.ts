import fc from 'fast-check'

/** A JSON Schema as the OpenAPI document states it (the subset our TypeBox schemas produce). */
export type Schema = Record<string, any>

/**
 * What a schema alone cannot know: values that make a request reach the
 * handler instead of stopping at a lookup. Each is read when a value is
 * generated, so pools filled by earlier responses feed later requests.
 */
export interface Vocabulary {
  /** a URL for `format: uri` strings; must be loopback (the network is never left) */
  url: () => string
  /** ids seen in responses, for `format: uuid` strings (`field`: the property's name, e.g. customer_id) */
  uuids: (field?: string) => readonly string[]
  /** short strings seen in responses (event names, statuses, slugs), for free-form strings */
  words: () => readonly string[]
  /** values seen in responses under this name (`plugin`, `event`, `cursor` from `next_cursor`) */
  named: (field: string) => readonly string[]
}

const UUID_TEXT = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i

/** Long enough to find off-by-ones, short enough for a thousand requests in seconds. */
const SHORT = 24

/**
 * A value from a pool when there is one, else the fallback. The pool comes first: fast-check's oneof leans
 * toward its first arbitrary the deeper it is nested, and pools are what makes a request reach its handler.
 */
const pick = <T>(pool: () => readonly T[], fallback: fc.Arbitrary<T>, weight = 1): fc.Arbitrary<T> =>
  fc.oneof(
    {
      weight,
      arbitrary: fc.nat().chain((n) => {
        const list = pool()
        return list.length === 0 ? fallback : fc.constant(list[n % list.length]!)
      }),
    },
    { weight: 1, arbitrary: fallback },
  )

function stringArbitrary(schema: Schema, vocabulary: Vocabulary, name?: string): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0
  const maxLength = Math.max(minLength, Math.min(schema.maxLength ?? SHORT, SHORT))
  const fits = (s: string) => [...s].length >= minLength && [...s].length <= (schema.maxLength ?? Infinity)
  switch (schema.format) {
    case 'uri':
      return fc.nat().map(() => vocabulary.url())
    case 'uuid':
      return pick(() => vocabulary.uuids(name), fc.uuid(), 4)
    case 'date-time':
      return fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2090-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString())
    case 'email':
      return fc.tuple(fc.stringMatching(/^[a-z0-9]{1,12}$/), fc.constantFrom('example.com', 'shop.example')).map(([user, host]) => `${user}@${host}`)
  }
  if (schema.pattern) return pick(() => (name ? vocabulary.named(name) : []), fc.stringMatching(new RegExp(schema.pattern)).filter(fits))
  const free = fc.oneof(
    { weight: 3, arbitrary: fc.string({ minLength, maxLength }) },
    // any code point, astral planes and controls included: what a real client's text can hold
    { weight: 1, arbitrary: fc.string({ minLength, maxLength, unit: 'binary' }) },
    { weight: 2, arbitrary: pick(vocabulary.words, fc.string({ minLength, maxLength })).filter(fits) },
  )
  return name ? pick(() => vocabulary.named(name).filter(fits), free, 2) : free
}

function numberArbitrary(schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + (integer ? 1 : 1e-6) : -1e9)
  const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - (integer ? 1 : 1e-6) : 1e9)
  const ints = fc.integer({ min: Math.ceil(Math.max(min, Number.MIN_SAFE_INTEGER)), max: Math.floor(Math.min(max, Number.MAX_SAFE_INTEGER)) })
  // small counts are what real requests hold (a quantity of 2, a limit of 10): most values are near the minimum
  const small = fc.integer({ min: Math.ceil(Math.max(min, -10)), max: Math.floor(Math.min(max, Math.max(min, -10) + 10)) })
  if (integer) return fc.oneof(small, small, ints, fc.constantFrom(Math.ceil(min), Math.floor(max)).filter((n) => Number.isSafeInteger(n)))
  return fc.oneof(
    ints,
    // amounts with cents, the usual case for a number field
    fc.integer({ min: Math.ceil(min * 100), max: Math.floor(Math.min(max, 1e12) * 100) }).map((c) => c / 100),
    fc.double({ min, max, noNaN: true, noDefaultInfinity: true }),
  )
}

/**
 * Values the schema accepts (the document's own rules; a rule it states in prose may still refuse some).
 * `example`, the document's own example of the value, is used half the time: it names what a schema cannot
 * (event types that exist, a slug that is taken); never for a URL, which must stay on loopback, nor an id.
 */
export function valueArbitrary(schema: Schema | undefined, vocabulary: Vocabulary, depth = 0, name?: string, example?: unknown): fc.Arbitrary<unknown> {
  const generated = generate(schema, vocabulary, depth, name, example)
  // an example id names nothing that exists: ids come from the responses instead
  // (a formatted example — an id, an e-mail, a URL — names one thing; generated ones keep requests apart and on loopback)
  const usable =
    example !== undefined && !schema?.format && !UUID_TEXT.test(JSON.stringify(example)) && (typeof example !== 'object' || Array.isArray(example))
  return usable ? fc.oneof(generated, fc.constant(example)) : generated
}

function generate(schema: Schema | undefined, vocabulary: Vocabulary, depth: number, name: string | undefined, example: unknown): fc.Arbitrary<unknown> {
  if (!schema || Object.keys(schema).filter((k) => !['description', 'examples', 'title', 'default'].includes(k)).length === 0) {
    return fc.jsonValue({ maxDepth: 2 })
  }
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]))
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  if (alternatives) return fc.oneof(...alternatives.map((s) => valueArbitrary(s, vocabulary, depth, name)))
  if (Array.isArray(schema.type)) return fc.oneof(...(schema.type as string[]).map((type) => valueArbitrary({ ...schema, type }, vocabulary, depth, name)))
  switch (schema.type) {
    case 'string':
      return stringArbitrary(schema, vocabulary, name)
    case 'integer':
      return numberArbitrary(schema, true)
    case 'number':
      return numberArbitrary(schema, false)
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array': {
      const items = valueArbitrary(schema.items, vocabulary, depth + 1, name)
      const minLength = schema.minItems ?? 0
      const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? 3, minLength + 2))
      return schema.uniqueItems
        ? fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
        : fc.array(items, { minLength, maxLength })
    }
    case 'object':
      return objectArbitrary(schema, vocabulary, depth, example)
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

function objectArbitrary(schema: Schema, vocabulary: Vocabulary, depth: number, example: unknown): fc.Arbitrary<Record<string, unknown>> {
  const examples = (example && typeof example === 'object' && !Array.isArray(example) ? example : {}) as Record<string, unknown>
  const properties = (schema.properties ?? {}) as Record<string, Schema>
  const required = new Set<string>(schema.required ?? [])
  const known = fc.record(
    Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, valueArbitrary(s, vocabulary, depth + 1, name, examples[name])])),
    { requiredKeys: Object.keys(properties).filter((name) => required.has(name)) },
  )
  const extra =
    schema.additionalProperties && typeof schema.additionalProperties === 'object' && depth < 3
      ? fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), valueArbitrary(schema.additionalProperties, vocabulary, depth + 1), { maxKeys: 3 })
      : fc.constant({})
  return fc
    .tuple(extra, known)
    .map(([more, own]) => ({ ...more, ...own }) as Record<string, unknown>)
    .filter((o) => Object.keys(o).length >= (schema.minProperties ?? 0) && Object.keys(o).length <= (schema.maxProperties ?? Infinity))
}

/** Text no API may choke on: NUL, other controls, a lone surrogate, bidi overrides, line separators, and long runs. */
export const HOSTILE_TEXT = [
  'a\u0000b',
  '\u0000',
  '\u0001\u0002\u001f\u007f',
  '\ud800',
  'x\udfffy',
  '\u202e\u2028\u2029',
  '\ufeff\ufffe\uffff',
  '😀'.repeat(50),
  "'; drop table plugins; --",
  '../../etc/passwd',
  '%00%ZZ',
  ' ',
  '',
  'x'.repeat(100 * 1024),
]

/** Values of every JSON type, to put where another type is expected. */
export const OTHER_TYPES: unknown[] = [0, -1, 1.5, 2 ** 63, -(2 ** 63), true, null, [], {}, ['x'], { a: 1 }, 'string', '1', 'true', '']

/** Path segments a router and a database must both survive; given as they are sent, percent-encoded or not. */
export const HOSTILE_SEGMENTS = [
  '%00',
  'a%00b',
  '%ZZ',
  '%',
  '%C0%AF',
  '%F0%9F%98%80',
  '%ED%A0%80',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e',
  '-1',
  '0',
  '1e400',
  '99999999999999999999',
  '1.5',
  'x'.repeat(201),
  'x'.repeat(100),
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  "'%20or%20'1'%3D'1",
  '%E2%80%AE',
]
