/**
 * Example values for the OpenAPI document, made from the route schemas
 * themselves, so every route has examples that stay in step with its schema.
 * A property's name picks a realistic value ("slug" → "my-analytics"); the
 * caller keeps an example only if the schema accepts it (see openapi.ts).
 */

type Schema = Record<string, unknown>

const TIME = '2024-01-15T10:30:00.000Z'
const UUID = '12345678-1234-1234-1234-123456789012'

/** By property name: the spec's own example values where it has them. */
export const BY_NAME: Record<string, unknown> = {
  id: UUID,
  tenant_id: '11111111-1111-1111-1111-111111111111',
  slug: 'my-analytics',
  plugin: 'my-analytics',
  name: 'My Analytics Plugin',
  webhook_url: 'https://myservice.example/webhooks/bettercallsold',
  url: 'https://myservice.example/webhooks/bettercallsold',
  event: 'product.created',
  type: 'product.created',
  events: ['product.created', 'product.updated'],
  description: 'Product description',
  price: 29.99,
  unit_price: 29.99,
  total: 59.98,
  line_total: 59.98,
  email: 'ann@example.com',
  phone: '+1 555 0100',
  images: ['https://example.com/image1.jpg'],
  tags: ['tag1', 'tag2'],
  collections: ['collection-1'],
  // obviously not real: 32 zero bytes; a real secret is 32 random ones
  secret: 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  key: 'bcs_live_exampleexampleexampleexampleexampleexamplex',
  prefix: 'bcs_live_exampl',
  webhook_id: 'dlv_42',
  message: 'Test webhook from BetterCallSold: your endpoint is reachable.',
  error: 'HTTP 500: Internal Server Error',
  last_error: 'HTTP 500: Internal Server Error',
  tracking_number: '1Z999AA10123456784',
  reason: 'Customer changed their mind',
  status: 'active',
  line1: '1 Main Street',
  line2: 'Apt 4',
  city: 'Springfield',
  region: 'IL',
  postal_code: '62701',
  country: 'US',
  quantity: 2,
  limit: 50,
  status_code: 200,
  last_status_code: 200,
  duration_ms: 87,
  attempts: 1,
  attempt: 1,
  config: { api_key: 'your-api-key', sync_frequency: 'realtime' },
  metadata: { description: 'Analytics and tracking plugin', version: '1.0.0', author: 'Your Company' },
  payload: {
    id: UUID,
    event: 'product.created',
    tenant_id: '11111111-1111-1111-1111-111111111111',
    timestamp: TIME,
    data: { product_id: UUID, name: 'New Product Name', price: 29.99, status: 'active' },
  },
}

const BY_FORMAT: Record<string, string> = {
  uuid: UUID,
  'date-time': TIME,
  date: '2024-01-15',
  uri: 'https://myservice.example/webhooks/bettercallsold',
  email: 'ann@example.com',
}

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * An example value for `schema`, or undefined when none can be made up.
 * `names` maps property names to values (BY_NAME, or a variant of it for a
 * resource whose `name` or `status` reads differently).
 */
export function exampleOf(schema: unknown, name?: string, names: Record<string, unknown> = BY_NAME, depth = 0): unknown {
  if (!isObject(schema) || depth > 12) return undefined
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0]
  if ('example' in schema) return schema.example
  if ('const' in schema) return schema.const
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0]
  if (schema.default !== undefined && !isObject(schema.default)) return schema.default

  for (const key of ['anyOf', 'oneOf'] as const) {
    const members = schema[key]
    if (Array.isArray(members)) {
      // the first member that is not null: an example shows the value, not its absence
      const member = members.find((m) => isObject(m) && m.type !== 'null') ?? members[0]
      return exampleOf(member, name, names, depth + 1)
    }
  }
  if (Array.isArray(schema.allOf)) {
    const parts = schema.allOf.map((s) => exampleOf(s, name, names, depth + 1))
    return parts.every(isObject) ? Object.assign({}, ...parts) : parts[0]
  }

  const named = name !== undefined ? names[name] : undefined
  switch (schema.type) {
    case 'object': {
      if (isObject(schema.properties)) {
        const value: Record<string, unknown> = {}
        for (const [key, property] of Object.entries(schema.properties)) {
          const example = exampleOf(property, key, names, depth + 1)
          if (example !== undefined) value[key] = example
        }
        return value
      }
      return isObject(named) ? named : {}
    }
    case 'array': {
      // a named list only stands for a list of plain values ("events"), not of objects
      if (Array.isArray(named) && isObject(schema.items) && schema.items.type === 'string') return named
      const item = exampleOf(schema.items, name?.replace(/s$/, ''), names, depth + 1)
      if (item === undefined) return []
      return Array.from({ length: Math.max(1, Number(schema.minItems ?? 1)) }, () => item)
    }
    case 'string': {
      if (typeof named === 'string') return named
      if (typeof schema.format === 'string' && BY_FORMAT[schema.format]) return BY_FORMAT[schema.format]
      if (name?.endsWith('_at')) return TIME
      if (name?.endsWith('_id')) return UUID
      const min = Number(schema.minLength ?? 1)
      return 'example'.padEnd(min, 'e')
    }
    case 'integer':
      return typeof named === 'number' && Number.isInteger(named) ? named : Math.max(Number(schema.minimum ?? 1), 1)
    case 'number':
      return typeof named === 'number' ? named : Math.max(Number(schema.minimum ?? 0), 19.99)
    case 'boolean':
      return true
    case 'null':
      return null
    default:
      // a schema that allows anything (TypeBox's Unknown): the named value if there is one
      return named ?? {}
  }
}
