import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { ErrorResponse, errorBody } from '../http/error-response.ts'
import { IDEMPOTENCY_KEY_PATTERN, ONCE_ONLY_FIELDS } from '../http/idempotency.ts'
import { MAX_URL_LENGTH } from '../http/request-limits.ts'
import { PUBLIC_URLS } from '../http/tenant.ts'
import { version } from '../version.ts'
import { BY_NAME, exampleOf } from './examples.ts'
import { ROUTE_DOCS, TAGS, type RouteDoc } from './route-docs.ts'

// ajv-formats is CommonJS; under NodeNext its callable sits on .default
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

/**
 * The interactive docs' page: Swagger UI's own scripts and styles, all served
 * from this server (no CDN); its "try it out" calls go to this origin only.
 * Swagger UI injects one <style> element at run time, hence inline styles (and
 * only styles: no inline script runs).
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type Schema = Record<string, unknown>

const SUCCESS: Record<string, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted: queued' }

const STATUS_MEANING: Record<number, string> = {
  400: 'Invalid request',
  401: 'No valid API key',
  403: 'The key may not do this',
  404: 'Not found (another tenant’s resources are not found either)',
  409: 'Conflicts with the current state',
  413: 'Body larger than 1 MiB',
  414: `URL longer than ${MAX_URL_LENGTH} characters, or a path parameter longer than 200`,
  415: 'Body is not JSON',
  422: 'Unprocessable',
  429: 'Rate limit exceeded: wait for Retry-After',
  431: 'Request line and headers larger than 16 KiB',
  503: 'Database unavailable: retry after Retry-After',
}

/** A message per code for the examples; a code not listed gets a generic one. */
const MESSAGES: Record<string, string> = {
  VALIDATION_ERROR: 'status must be one of: active, paused; got "stopped"',
  FST_ERR_CTP_INVALID_JSON_BODY: "Body is not valid JSON but content-type is set to 'application/json'",
  URL_TOO_LONG: `The request URL is longer than ${MAX_URL_LENGTH} characters`,
  HEADERS_TOO_LARGE: 'Request line and headers exceed 16384 bytes',
  INVALID_IDEMPOTENCY_KEY: 'Idempotency-Key must be 1-255 printable ASCII characters',
  IDEMPOTENCY_REQUEST_IN_PROGRESS: 'A request with this Idempotency-Key is in progress; retry shortly',
  IDEMPOTENCY_KEY_REUSED: 'This Idempotency-Key was used with a different request; use a new key',
  TOO_DEEP: 'The JSON body is nested deeper than 32 levels',
  MISSING_API_KEY: 'An API key is required: send `Authorization: Bearer <key>`',
  INVALID_API_KEY: 'The API key is invalid or has been revoked',
  ADMIN_KEY_REQUIRED: 'Managing API keys requires an admin API key',
  OPERATOR_KEY_REQUIRED: 'Reading /metrics requires an operator API key (bin/admin keys create --operator)',
  RATE_LIMITED: 'Rate limit of 6000 requests per minute exceeded; retry in 1 minute',
  SERVICE_UNAVAILABLE: 'The database is unavailable; try again shortly',
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body is too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "Unsupported Media Type: text/plain",
  UNKNOWN_EVENT: 'Unknown event types: product.exploded (see GET /api/event-types)',
  SLUG_TAKEN: "A plugin with slug 'my-analytics' already exists",
  RESERVED_SLUG: "The slug 'events' is reserved",
  UNSAFE_WEBHOOK_URL: 'webhook_url is refused: 10.0.0.1 is a private address',
  PLUGIN_DELETED: 'Delivery 42 belongs to a deleted plugin; nothing is delivered to it any more',
}

const RESOURCE: Record<string, string> = {
  Plugins: "Plugin 'my-analytics'",
  'Signing secrets': "Plugin 'my-analytics'",
  'Events log': "Delivery '42'",
  Products: "Product '12345678-1234-1234-1234-123456789012'",
  Inventory: "Product '12345678-1234-1234-1234-123456789012'",
  Customers: "Customer '12345678-1234-1234-1234-123456789012'",
  Orders: "Order '12345678-1234-1234-1234-123456789012'",
  'API keys': "API key '12345678-1234-1234-1234-123456789012'",
}

/** Where a property name reads differently for a resource: a product's name is not a plugin's. */
const NAMES_BY_TAG: Record<string, Record<string, unknown>> = {
  Products: { ...BY_NAME, name: 'Test Product' },
  Inventory: { ...BY_NAME, name: 'Test Product' },
  Customers: { ...BY_NAME, name: 'Ann Example' },
  Orders: { ...BY_NAME, name: 'Test Product', status: 'pending' },
  'Events log': { ...BY_NAME, status: 'sent' },
  'API keys': { ...BY_NAME, name: 'ci' },
}

const tagOf = (url: string): string => TAGS.find(([prefix]) => prefix.test(url))?.[1] ?? 'Operations'

/** `POST /api/plugins/:slug/test` → `postPluginsBySlugTest`: unique, stable, readable in generated clients. */
function operationId(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((part) => part && part !== 'api')
    .map((part) => (part.startsWith(':') ? `by-${part.slice(1)}` : part))
    .join('-')
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
  const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('') || 'Root'
  return method.toLowerCase() + name
}

/** What a POST's answer says when it is a replay (src/http/idempotency.ts). */
const REPLAY_HEADERS = {
  'idempotent-replayed': {
    type: 'string',
    enum: ['true'],
    description: 'Present when this answer is the stored answer to an earlier request with the same Idempotency-Key',
  },
}

/** Every POST takes an Idempotency-Key (src/http/idempotency.ts). */
function withIdempotencyKey(headers: Schema | undefined): Schema {
  return {
    type: 'object',
    ...headers,
    properties: {
      ...(headers?.properties as Schema | undefined),
      'idempotency-key': {
        type: 'string',
        pattern: IDEMPOTENCY_KEY_PATTERN.source,
        description:
          'Makes a retry safe: the first request with a key runs, a retry with the same key and body gets the first answer again ' +
          '(with `idempotent-replayed: true`) and writes nothing; kept 24 h. The same key with another body is a 422; a retry ' +
          'while the first still runs a 409. A secret or key the first answer showed is not in a replay.',
      },
    },
  }
}

/**
 * Adds generated or given examples to a copy of the route's schemas, and the
 * documentation-only parts (summary, tags, error responses). The route itself
 * is untouched: validation and serialisation never see any of this.
 */
function documenter() {
  const ajv = new Ajv({ strict: false, allErrors: false })
  addFormats(ajv)
  const accepts = (schema: Schema, value: unknown): boolean => {
    try {
      return value !== undefined && ajv.validate(schema, value)
    } catch {
      return false
    }
  }
  /** the schema with its example, if the schema accepts it; never an example that would be refused */
  const withExample = (schema: Schema, example: unknown): Schema => (accepts(schema, example) ? { ...schema, examples: [example] } : schema)

  const withPropertyExamples = (schema: Schema, names: Record<string, unknown>): Schema => {
    const properties = schema.properties as Record<string, Schema> | undefined
    if (!properties) return schema
    const out: Record<string, Schema> = {}
    for (const [name, property] of Object.entries(properties)) out[name] = withExample(property, exampleOf(property, name, names))
    return { ...schema, properties: out }
  }

  /**
   * Every status a route can answer, with its codes: those of its own (route-docs.ts) and those every route of its
   * kind answers — the router's, the body parser's, the idempotency layer's. test/contract.fuzz.test.ts fails on
   * a status missing here.
   */
  const errorCodes = (schema: Schema, url: string, method: string, isPublic: boolean, replayable: boolean, doc: RouteDoc | undefined): Map<number, string[]> => {
    const codes = new Map<number, string[]>()
    const add = (status: number, ...list: string[]) => {
      const known = codes.get(status) ?? []
      codes.set(status, [...known, ...list.filter((c) => !known.includes(c))])
    }
    const hasParams = url.includes('/:')
    // Fastify parses a JSON body on these methods whether or not the route reads one
    const takesBody = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)
    if (schema.body || schema.querystring || schema.params || schema.headers) add(400, 'VALIDATION_ERROR')
    if (takesBody) add(400, 'FST_ERR_CTP_INVALID_JSON_BODY', 'FST_ERR_CTP_EMPTY_JSON_BODY')
    if (schema.body) add(400, 'TOO_DEEP')
    if (hasParams) add(400, 'FST_ERR_BAD_URL')
    if (replayable) add(400, 'INVALID_IDEMPOTENCY_KEY')
    if (!isPublic) add(401, 'MISSING_API_KEY', 'INVALID_API_KEY')
    if (hasParams) add(404, 'NOT_FOUND')
    for (const [status, list] of Object.entries(doc?.errors ?? {})) add(Number(status), ...(list ?? []))
    if (replayable) add(409, 'IDEMPOTENCY_REQUEST_IN_PROGRESS')
    if (takesBody) {
      add(413, 'FST_ERR_CTP_BODY_TOO_LARGE')
      add(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    }
    add(414, 'URL_TOO_LONG', ...(hasParams ? ['FST_ERR_MAX_PARAM_LENGTH'] : []))
    if (replayable) add(422, 'IDEMPOTENCY_KEY_REUSED')
    add(429, 'RATE_LIMITED')
    add(431, 'HEADERS_TOO_LARGE')
    // every route but the static ones reads the database
    if (!['/', '/openapi.json'].includes(url) && !doc?.responses?.[503]) add(503, 'SERVICE_UNAVAILABLE')
    return new Map([...codes].sort(([a], [b]) => a - b))
  }

  /** A query parameter with a default may be left out: the schema's `required` says otherwise only for validation's sake. */
  const withDefaultsOptional = (schema: Schema): Schema => {
    const properties = (schema.properties ?? {}) as Record<string, Schema>
    const required = ((schema.required ?? []) as string[]).filter((name) => properties[name]?.default === undefined)
    return { ...schema, required }
  }

  /**
   * A POST's success, as a replay answers it: a field shown once (a secret, a key) is never stored, so a replay
   * (`idempotent-replayed: true`) omits it — the field is documented as optional, and says so.
   */
  const asReplayable = (schema: Schema): Schema => {
    const properties = schema.properties as Record<string, Schema> | undefined
    const once = ONCE_ONLY_FIELDS.filter((f) => properties?.[f])
    if (!properties || once.length === 0) return schema
    const note = 'Absent from a replay of this request (`idempotent-replayed: true`): it is shown once and never stored.'
    return {
      ...schema,
      required: ((schema.required ?? []) as string[]).filter((name) => !once.includes(name)),
      properties: Object.fromEntries(
        Object.entries(properties).map(([name, p]) => [name, once.includes(name) ? { ...p, description: p.description ? `${String(p.description).replace(/\.?$/, '.')} ${note}` : note } : p]),
      ),
    }
  }

  return function transform({ schema, url, route }: { schema: unknown; url: string; route: RouteOptions }) {
    const given = (schema ?? {}) as Schema
    if (given.hide) return { schema: given, url }
    const method = Array.isArray(route.method) ? String(route.method[0]) : String(route.method)
    const doc = ROUTE_DOCS[`${method} ${url}`]
    const isPublic = route.config?.public === true || PUBLIC_URLS.has(url)
    // a store's POST takes an Idempotency-Key; a developer's or an app's own route does not (src/http/idempotency.ts)
    const replayable = method === 'POST' && !route.config?.principal
    const tag = tagOf(url)
    const names = NAMES_BY_TAG[tag] ?? BY_NAME

    const response: Record<string, Schema> = {}
    for (const [status, own] of Object.entries((given.response ?? {}) as Record<string, Schema>)) {
      const documented = replayable ? { ...asReplayable(own), headers: REPLAY_HEADERS } : own
      response[status] = withExample({ description: SUCCESS[status] ?? 'OK', ...documented }, exampleOf(own, undefined, names))
    }
    for (const [status, extra] of Object.entries(doc?.responses ?? {})) {
      if (extra.contentType) {
        const media = { schema: extra.schema ?? {}, ...(extra.example !== undefined && { example: extra.example }) }
        response[status] = { description: extra.description, content: { [extra.contentType]: media } }
      } else if (extra.schema) {
        response[status] = withExample({ ...extra.schema, description: extra.description }, extra.example ?? exampleOf(extra.schema, undefined, names))
      } else {
        response[status] = { description: extra.description, type: 'null' }
      }
    }
    for (const [status, codes] of errorCodes(given, url, method, isPublic, replayable, doc)) {
      const first = codes[0]!
      const message = MESSAGES[first] ?? (first === 'NOT_FOUND' ? `${RESOURCE[tag] ?? 'Resource'} not found` : first.toLowerCase().replace(/_/g, ' '))
      response[status] = {
        ...ErrorResponse,
        description: `${STATUS_MEANING[status] ?? 'Error'}: ${codes.map((c) => `\`${c}\``).join(', ')}`,
        examples: [errorBody(status, first, message)],
      }
    }

    const documented: Schema = {
      ...given,
      summary: doc?.summary ?? `${method} ${url}`,
      ...(doc?.description && { description: doc.description }),
      tags: [tag],
      operationId: operationId(method, url),
      ...(isPublic && { security: [] }),
      ...(given.body ? { body: withExample({ ...(given.body as Schema), ...doc?.bodyRules }, doc?.body ?? exampleOf(given.body, undefined, names)) } : {}),
      ...(given.querystring ? { querystring: withPropertyExamples(withDefaultsOptional(given.querystring as Schema), names) } : {}),
      ...(replayable && { headers: withIdempotencyKey(given.headers as Schema | undefined) }),
      ...(given.params ? { params: withPropertyExamples(given.params as Schema, names) } : {}),
      response,
    }
    return { schema: documented, url }
  }
}

/**
 * The OpenAPI 3.1 document, generated from the routes' TypeBox schemas, at
 * `/openapi.json`, and Swagger UI at `/docs`. Both need no key: they describe
 * the API, they hold no tenant's data. Registered before the routes, so every
 * route is seen.
 */
export const openApi = fp(
  async (app) => {
    const { config } = app.ctx
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'BetterCallSold plugin system',
          version,
          description:
            'Webhook plugins for a BetterCallSold store: register a plugin, choose its events, and receive them signed ' +
            '(Standard Webhooks), retried, and logged. Every error is JSON `{ statusCode, error, message, code }`; branch on `code`. ' +
            'A validation error (`VALIDATION_ERROR`) adds `details: [{ field, in, problem, allowed? }]`, one per field, and its message ' +
            'names the field, what was given and what is allowed. Text anywhere in a request must be storable: the NUL character ' +
            '(U+0000) and lone UTF-16 surrogates are refused with a 400 naming the field. A path that exists with another method is a ' +
            '`405` with `Allow`. Every `POST` takes an `Idempotency-Key`.\n\n' +
            `Authentication: \`Authorization: Bearer <API key>\`${config.AUTH === 'required' ? ' (required on this server).' : ' (optional on this server: without a key a request acts as the default tenant).'}`,
        },
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: `bin/admin keys create --tenant <uuid>`' } },
        },
        // with AUTH=off a request without a key is answered too: the empty requirement says so
        security: config.AUTH === 'required' ? [{ bearerAuth: [] }] : [{ bearerAuth: [] }, {}],
        tags: TAGS.map(([, name, description]) => ({ name, description })),
      },
      transform: documenter(),
    })

    app.get('/openapi.json', { config: { public: true } }, async () => app.swagger())

    await app.register(async (docs) => {
      // Swagger UI's pages and assets: public, with a CSP that lets them run
      docs.addHook('onRoute', (route) => {
        route.config = { ...route.config, public: true, csp: DOCS_CSP }
      })
      await docs.register(swaggerUi, {
        routePrefix: '/docs',
        // the validator badge would call a public service; there is no network to reach, and no need
        validatorUrl: false,
        uiConfig: { deepLinking: true, persistAuthorization: true, displayRequestDuration: true },
      })
    })
  },
  { name: 'openapi', dependencies: ['tenant'] },
)
