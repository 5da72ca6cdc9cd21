import { Type, type TSchema } from '@sinclair/typebox'

/**
 * What the OpenAPI document says about each route beyond its schemas: a
 * summary, a description, the error codes particular to it, and examples where
 * the ones made from the schema (examples.ts) would not do. Keyed
 * 'METHOD /url' as Fastify registers it; test/openapi.test.ts fails for a
 * route that has no entry here.
 */
export interface RouteDoc {
  summary: string
  description?: string
  /** error codes particular to this route, by status; those of every route are added (see openapi.ts) */
  errors?: Partial<Record<number, string[]>>
  /** the request body's example, when the one made from the schema would be refused by the route */
  body?: unknown
  /**
   * Rules the handler enforces (with its own error code) that JSON Schema can state: added to the documented body
   * schema, so a client sees them; the route's own schema leaves them to the handler's clearer error.
   */
  bodyRules?: Record<string, unknown>
  /** responses the route's schema does not declare: 204s, and bodies that are not JSON */
  responses?: Record<number, { description: string; contentType?: string; schema?: TSchema; example?: unknown }>
}

/** Tags, by URL prefix: the first that matches. */
export const TAGS: [prefix: RegExp, tag: string, description: string][] = [
  [/^\/api\/plugins\/events/, 'Events log', 'Deliveries: the log, their attempts, redelivery, the live stream and statistics'],
  [/^\/api\/plugins\/[^/]+\/secret/, 'Signing secrets', 'Each plugin’s Standard Webhooks signing secret'],
  [/^\/api\/plugins/, 'Plugins', 'Register, configure, pause and test webhook plugins'],
  [/^\/api\/event-types/, 'Event catalog', 'Every event type, with the JSON Schema of its data'],
  [/^\/api\/products\/[^/]+\/inventory/, 'Inventory', 'Stock levels; emit inventory.* events'],
  [/^\/api\/products/, 'Products', 'The store’s products; writes emit product.* events'],
  [/^\/api\/customers/, 'Customers', 'The store’s customers; writes emit customer.* events'],
  [/^\/api\/orders/, 'Orders', 'Orders and their lifecycle; each step emits its order.* event'],
  [/^\/api\/analytics/, 'Analytics', 'Per-plugin numbers from rollups: volume, outcomes, latency percentiles, failure causes, SLOs'],
  [/^\/api\/alerts/, 'Alerts', 'Alert endpoints: where plugin.failing, plugin.recovered, plugin.disabled, plugin.backlog and plugin.slo_burn go'],
  [/^\/api\/apps/, 'Apps (developers)', 'Publish apps, manage their credentials and see their installations (developer keys); the app’s own access tokens'],
  [/^\/api\/marketplace/, 'Marketplace', 'Discover apps, read listings, install, review'],
  [/^\/api\/installations/, 'Installations', 'A store’s installed apps: config, permission approvals, uninstall'],
  [/^\/api\/keys/, 'API keys', 'Keys of the caller’s tenant (admin keys only)'],
  [/^\//, 'Operations', 'Health, metrics, this document and the dashboard'],
]

const Text = Type.String()

const DatabaseState = Type.Union([Type.Literal('up'), Type.Literal('waiting'), Type.Literal('down')], {
  description: '`up`: answers; `waiting`: not yet connected and migrated since start; `down`: answered before, not now',
})
const HealthResponse = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('ready'), Type.Literal('unavailable')]),
  auth: Type.Union([Type.Literal('required'), Type.Literal('off')], {
    description: '`required`: every other call needs `Authorization: Bearer <key>`; `off`: calls without a key act as the default store',
  }),
  database: Type.Object({
    status: DatabaseState,
    latency_ms: Type.Optional(Type.Integer({ description: 'Operator keys only' })),
    error: Type.Optional(Type.String({ description: 'Operator keys only: why the database is down' })),
  }),
  relay: Type.Object({ state: Type.String({ description: 'The in-process relay: running, stopping, stopped, idle or off' }) }, { additionalProperties: true }),
  backlog: Type.Optional(
    Type.Object(
      { due: Type.Integer(), oldest_due_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) },
      { description: 'Operator keys only' },
    ),
  ),
})

const SSE_EXAMPLE =
  'retry: 2000\n\n' +
  'id: 41:17:880\nevent: ready\ndata: {"tenant_id":"11111111-1111-1111-1111-111111111111","plugins":[],"events":[],"resumed":false}\n\n' +
  'id: 42:17:880\nevent: created\ndata: {"change":"created","delivery_id":42,"webhook_id":"dlv_42","plugin":"my-analytics",' +
  '"event":"product.created","status":"pending","attempts":0,"attempt":null,"created_at":"2024-01-15T10:30:00.000Z","at":"2024-01-15T10:30:00.000Z"}\n\n' +
  'id: 42:18:881\nevent: sent\ndata: {"change":"sent","delivery_id":42,"webhook_id":"dlv_42","plugin":"my-analytics",' +
  '"event":"product.created","status":"sent","attempts":1,"attempt":{"number":1,"status_code":200,"error":null,"duration_ms":12},' +
  '"created_at":"2024-01-15T10:30:00.000Z","at":"2024-01-15T10:30:00.020Z"}\n\n' +
  ': heartbeat\n\n'

const MANIFEST = {
      name: 'Analytics Pro',
      tagline: 'Sales dashboards for your store',
      description: '# Analytics Pro\\n\\nDaily sales reports. [Docs](https://analytics.example/docs)',
      categories: ['analytics'],
      version: '1.0.0',
      webhook_url: 'https://analytics.example/webhooks',
      events: ['order.created'],
      permissions: [
        { permission: 'orders:read', purpose: 'Count your sales' },
        { permission: 'products:read', purpose: 'Name your best sellers' },
      ],
      config_schema: {
        type: 'object',
        properties: {
          report_email: { type: 'string', format: 'email', description: 'Where reports go' },
          api_key: { type: 'string', writeOnly: true, minLength: 8 },
        },
        required: ['report_email'],
      },
      listed: true,
    }

export const ROUTE_DOCS: Record<string, RouteDoc> = {

  // --- apps (developers)
  'POST /api/apps': {
    summary: 'Create an app',
    description:
      'With a developer key (`bin/admin developers create`). Publishes the first version of the manifest and answers the app’s ' +
      '`client_id`, `client_secret` and `signing_secret`, the secrets this once.',
    errors: {
      400: ['INVALID_VERSION', 'UNKNOWN_CATEGORY', 'UNKNOWN_PERMISSION', 'DUPLICATE_PERMISSION', 'UNKNOWN_EVENT', 'PERMISSION_REQUIRED_FOR_EVENT', 'INVALID_CONFIG_SCHEMA', 'UNSAFE_MARKDOWN', 'UNSAFE_WEBHOOK_URL', 'RESERVED_SLUG', 'TOO_LARGE'],
      401: ['MISSING_DEVELOPER_KEY', 'INVALID_DEVELOPER_KEY'],
      409: ['SLUG_TAKEN'],
      413: ['FST_ERR_CTP_BODY_TOO_LARGE'],
    },
    body: { slug: 'analytics-pro', ...MANIFEST },
  },
  'GET /api/apps': { summary: 'List your apps', errors: { 401: ['MISSING_DEVELOPER_KEY', 'INVALID_DEVELOPER_KEY'] } },
  'GET /api/apps/:slug': { summary: 'Get one of your apps', errors: { 401: ['MISSING_DEVELOPER_KEY', 'INVALID_DEVELOPER_KEY'] } },
  'PUT /api/apps/:slug': {
    summary: 'Publish a new version',
    description:
      'The whole manifest again, with a greater `version`. Installations whose granted permissions cover the new version follow it at once; ' +
      'the others keep running their version and show it as `pending_permissions` until their store approves.',
    errors: {
      400: ['INVALID_VERSION', 'UNKNOWN_CATEGORY', 'UNKNOWN_PERMISSION', 'DUPLICATE_PERMISSION', 'UNKNOWN_EVENT', 'PERMISSION_REQUIRED_FOR_EVENT', 'INVALID_CONFIG_SCHEMA', 'UNSAFE_MARKDOWN', 'UNSAFE_WEBHOOK_URL', 'TOO_LARGE'],
      401: ['MISSING_DEVELOPER_KEY', 'INVALID_DEVELOPER_KEY'],
      409: ['VERSION_NOT_INCREASING'],
      413: ['FST_ERR_CTP_BODY_TOO_LARGE'],
    },
    body: { ...MANIFEST, version: '1.1.0' },
  },
  'POST /api/apps/:slug/client-secret/rotate': {
    summary: 'Rotate the app’s client secret',
    description: 'A new client secret, shown this once; the previous one keeps working for the rotation grace period.',
    errors: { 401: ['MISSING_DEVELOPER_KEY', 'INVALID_DEVELOPER_KEY'] },
  },
  'GET /api/apps/:slug/installations': {
    summary: 'Your app’s installations, with delivery health',
    description: 'Every store’s installation, newest first: version, status, granted and pending permissions, and deliveries of the last day.',
    errors: { 400: ['INVALID_CURSOR'], 401: ['MISSING_DEVELOPER_KEY', 'INVALID_DEVELOPER_KEY'] },
  },
  'POST /api/apps/installations/:installation_id/access_tokens': {
    summary: 'Get an installation access token',
    description:
      'The app authenticates with HTTP Basic `client_id:client_secret` (no key of a store). The token acts for that one store for an hour, ' +
      'within the permissions the store granted: `Authorization: Bearer <token>` on the store API.',
    errors: { 401: ['INVALID_CLIENT_CREDENTIALS'] },
  },

  // --- marketplace
  'GET /api/marketplace/categories': { summary: 'The marketplace’s categories' },
  'GET /api/marketplace': {
    summary: 'Search the marketplace',
    description:
      'Listed apps: full-text search over name, tagline, categories and description (name matches first, typos corrected), a category filter, ' +
      'sorts (relevance, popular, rating, newest, name), keyset pages (`next_cursor`) and the category facets of the query.',
    errors: { 400: ['INVALID_CURSOR'] },
  },
  'GET /api/marketplace/:slug': {
    summary: 'An app’s listing',
    description: 'Its permissions and their purposes, events, config schema, versions and newest reviews. An unlisted app is found by its slug.',
    errors: { 404: ['APP_NOT_FOUND'] },
  },
  'POST /api/marketplace/:slug/install': {
    summary: 'Install an app',
    description:
      'With the store’s admin key. Accept exactly the permissions the current version asks for; the config is validated against its schema ' +
      '(defaults applied). Creates the installation and its plugin, and delivers `app.installed` to the app.',
    errors: {
      400: ['INVALID_CONFIG', 'TOO_LARGE'],
      403: ['ADMIN_KEY_REQUIRED', 'NOT_ALLOWED_FOR_APPS'],
      404: ['APP_NOT_FOUND'],
      409: ['PERMISSIONS_NOT_ACCEPTED', 'ALREADY_INSTALLED', 'PLUGIN_SLUG_TAKEN', 'APP_CHANGED'],
    },
    body: { accept_permissions: ['orders:read', 'products:read'], config: { report_email: 'owner@store.example', api_key: 'sk_live_123456' } },
  },
  'POST /api/marketplace/:slug/reviews': {
    summary: 'Review an app',
    description: 'Only a store that has (or had) installed it; one review per store, posting again replaces it (200).',
    errors: { 403: ['ADMIN_KEY_REQUIRED', 'REVIEW_REQUIRES_INSTALLATION', 'NOT_ALLOWED_FOR_APPS'], 404: ['APP_NOT_FOUND'] },
  },

  // --- installations
  'GET /api/installations': { summary: 'The store’s installed apps', errors: { 403: ['ADMIN_KEY_REQUIRED', 'NOT_ALLOWED_FOR_APPS'] } },
  'GET /api/installations/:id': { summary: 'An installation', errors: { 403: ['ADMIN_KEY_REQUIRED', 'NOT_ALLOWED_FOR_APPS'] } },
  'PATCH /api/installations/:id': {
    summary: 'Change an installation’s config',
    description: 'The whole config, validated against its version’s schema; writeOnly values left out keep their value. Delivers `app.config_updated`.',
    errors: { 400: ['INVALID_CONFIG', 'TOO_LARGE'], 403: ['ADMIN_KEY_REQUIRED', 'NOT_ALLOWED_FOR_APPS'] },
    body: { config: { report_email: 'reports@store.example' } },
  },
  'POST /api/installations/:id/approve': {
    summary: 'Approve a version’s new permissions',
    description:
      'Grants `pending_permissions`: the installation moves to `pending_version` and the app gets `app.permissions_updated`. ' +
      'Send `config` when the new version needs settings the current config lacks.',
    errors: { 400: ['INVALID_CONFIG'], 403: ['ADMIN_KEY_REQUIRED', 'NOT_ALLOWED_FOR_APPS'], 409: ['NOTHING_TO_APPROVE', 'CONFIG_INVALID_FOR_VERSION'] },
    body: {},
  },
  'DELETE /api/installations/:id': {
    summary: 'Uninstall an app',
    description: 'Its access tokens stop working at once, its undelivered deliveries are cancelled, and `app.uninstalled` is delivered to the app.',
    errors: { 403: ['ADMIN_KEY_REQUIRED', 'NOT_ALLOWED_FOR_APPS'] },
    responses: { 204: { description: 'Uninstalled' } },
  },
  // --- operations
  'GET /': {
    summary: 'The monitoring dashboard',
    description: 'A web page: every plugin with its numbers, deliveries per minute, the live feed, a delivery’s detail. Needs no key to load; it asks for one when the API does.',
    responses: {
      200: { description: 'The dashboard page', contentType: 'text/html', schema: Text, example: '<!doctype html>\n<html lang="en">…</html>' },
    },
  },
  'GET /health': {
    summary: 'Liveness: the process works',
    description:
      'Public: a probe carries no key. 200 whenever the process answers, also while the database is down or not yet reached ' +
      '(`database.status` says which: `up`, `waiting`, `down`), so an orchestrator does not restart a process that is waiting out an outage. ' +
      'Tells state, not internals: latency, error texts, the relay’s counters and the backlog are shown to an operator key only ' +
      '(or to anyone with `AUTH=off`). The database is probed at most once a second. ' +
      '`auth` says whether the API wants a key (the dashboard shows no key field when it does not).',
    responses: {
      200: {
        description: 'The process works; the database’s state alongside',
        schema: HealthResponse,
        example: { status: 'ok', auth: 'required', database: { status: 'down' }, relay: { state: 'running' } },
      },
    },
  },
  'GET /health/ready': {
    summary: 'Readiness: the database answers and is migrated',
    description:
      'Public, like `/health`. 200 while the database answers and the migrations are applied; 503 (with `Retry-After`) while it is ' +
      'down or not yet reached at start, so a load balancer sends traffic elsewhere meanwhile. Same body as `/health`.',
    responses: {
      200: { description: 'Ready to take requests', schema: HealthResponse, example: { status: 'ready', auth: 'required', database: { status: 'up' }, relay: { state: 'running' } } },
      503: {
        description: 'The database does not answer, or has not yet been reached since start',
        schema: HealthResponse,
        example: { status: 'unavailable', auth: 'required', database: { status: 'waiting' }, relay: { state: 'idle' } },
      },
    },
  },
  'GET /metrics': {
    summary: 'Prometheus metrics',
    description:
      'Deliveries by plugin, event and outcome; attempt latency; backlog size and age of the oldest due delivery; claims per batch; ' +
      'listener reconnects; HTTP requests; Node’s own. Spans every tenant, so with `AUTH=required` only an operator key reads it ' +
      '(`bin/admin keys create --operator`), never a store’s own key.',
    errors: { 403: ['OPERATOR_KEY_REQUIRED'] },
    responses: {
      200: {
        description: 'Prometheus text exposition format',
        contentType: 'text/plain; version=0.0.4',
        schema: Text,
        example: '# HELP bcs_deliveries_backlog Deliveries due now and not yet delivered\n# TYPE bcs_deliveries_backlog gauge\nbcs_deliveries_backlog 0\n',
      },
    },
  },
  'GET /openapi.json': {
    summary: 'This OpenAPI document',
    description: 'Generated from the routes’ own schemas. The interactive version is at `/docs`.',
    responses: { 200: { description: 'OpenAPI 3.1 document', schema: Type.Object({ openapi: Type.String() }, { additionalProperties: true }) } },
  },

  // --- event catalog
  'GET /api/event-types': {
    summary: 'The event catalog',
    description: 'Every event type a plugin can subscribe to, whether it is emitted yet, and the JSON Schema of its `data`; plus the envelope every webhook body shares.',
  },

  // --- plugins
  'POST /api/plugins': {
    summary: 'Register a plugin',
    description:
      'Creates a plugin that receives the listed events at `webhook_url`. The response carries its signing `secret`: this once ' +
      '(and on `GET /api/plugins/{slug}/secret`).',
    errors: { 400: ['UNKNOWN_EVENT', 'RESERVED_SLUG', 'TOO_LARGE', 'UNSAFE_WEBHOOK_URL'], 409: ['SLUG_TAKEN'] },
    body: {
      name: 'My Analytics Plugin',
      slug: 'my-analytics',
      webhook_url: 'https://myservice.example/webhooks/bettercallsold',
      events: ['product.created', 'product.updated', 'order.created'],
      config: { api_key: 'your-api-key', sync_frequency: 'realtime' },
      metadata: { description: 'Analytics and tracking plugin', version: '1.0.0', author: 'Your Company' },
    },
  },
  'GET /api/plugins': { summary: 'List plugins', description: 'Every plugin of the caller’s tenant, oldest first.' },
  'GET /api/plugins/:slug': { summary: 'Get a plugin' },
  'PUT /api/plugins/:slug': {
    summary: 'Update a plugin',
    description: 'Any subset of the fields, as the spec’s example sends them. `status: paused` holds its deliveries; `active` resumes them.',
    errors: { 400: ['UNKNOWN_EVENT', 'TOO_LARGE', 'UNSAFE_WEBHOOK_URL'] },
    body: { name: 'Updated Plugin Name', webhook_url: 'https://newurl.example/webhook', events: ['product.created', 'product.updated'], status: 'active' },
  },
  'PATCH /api/plugins/:slug': {
    summary: 'Update a plugin (partial)',
    description: 'The same as PUT: any subset of the fields.',
    errors: { 400: ['UNKNOWN_EVENT', 'TOO_LARGE', 'UNSAFE_WEBHOOK_URL'] },
    body: { status: 'paused' },
  },
  'DELETE /api/plugins/:slug': {
    summary: 'Delete a plugin',
    description: 'Nothing is delivered to it afterwards; its undelivered deliveries end as `cancelled`. The slug may be registered again.',
    responses: { 204: { description: 'Deleted' } },
  },
  'POST /api/plugins/:slug/test': {
    summary: 'Test a plugin’s connectivity',
    description: 'Sends a signed `plugin.test` webhook now and reports how the endpoint answered (200 either way). It appears in the events log.',
  },
  'POST /api/plugins/:slug/enable': {
    summary: 'Enable a disabled or paused plugin',
    description: 'A plugin disabled automatically (410 Gone, or failing for too long) keeps its deliveries; enabling it sends them.',
  },
  'POST /api/plugins/:slug/recover': {
    summary: 'Re-queue failed deliveries',
    description: 'Makes every failed delivery of the plugin since `since` due again: further attempts of the same deliveries.',
  },
  'GET /api/plugins/:slug/secret': { summary: 'Get a plugin’s signing secret' },
  'POST /api/plugins/:slug/secret/rotate': {
    summary: 'Rotate a plugin’s signing secret',
    description: 'Issues a new secret (or takes yours); the previous one keeps signing alongside it for the rotation grace period.',
    errors: { 400: ['INVALID_SECRET'] },
    body: {},
  },

  // --- events log
  'GET /api/plugins/events': {
    summary: 'The events log',
    description: 'Deliveries, newest first, with their plugin, event, status and payload. Page with `before` (the last id you have).',
  },
  'POST /api/plugins/events': {
    summary: 'Process pending webhooks now',
    description:
      'Delivers every delivery of the caller’s tenant that is due now, in this request, and reports the outcomes. It takes no body; ' +
      'one that is sent must still be well-formed JSON (else a 400 `FST_ERR_CTP_INVALID_JSON_BODY`).',
  },
  'GET /api/plugins/events/:id': {
    summary: 'A delivery, with its attempts',
    description: 'The delivery, the headers it was sent with and every attempt, oldest first.',
  },
  'POST /api/plugins/events/:id/retry': {
    summary: 'Redeliver a delivery',
    description:
      'Queues the delivery for another attempt now, whatever its status (a failed delivery included): a further attempt of the ' +
      'same delivery, with the same `webhook-id`. A paused plugin’s delivery waits until the plugin resumes.',
    errors: { 409: ['PLUGIN_DELETED'] },
  },
  'GET /api/plugins/events/stats': {
    summary: 'Delivery statistics',
    description:
      'Per plugin over the last day: attempts (last hour, last day), outcomes, success rate, attempt latency p50/p95, latest error; and attempts per ' +
      'minute by outcome over the last hour. Read from the analytics rollups (they follow the relay within ANALYTICS_INTERVAL_MS); the day starts at ' +
      'the top of the hour 24 hours ago.',
  },

  // --- analytics and alerts
  'GET /api/analytics/plugins/:slug': {
    summary: 'A plugin’s analytics over a range',
    description:
      'Every bucket of the range (minute, hour or day; minutes for the last 24 hours only) with attempts, sent, retried, failed, success rate, ' +
      'attempt duration p50/p95/p99, commit → delivered p50/p95/p99 and failures by cause; the totals; the totals per event type; and the SLO ' +
      'state when the plugin has one. From rollups: the cost follows the range asked, not the deliveries stored. Percentiles come from ' +
      'log-spaced histograms (within 5 %). `from` is truncated to its bucket.',
    errors: { 400: ['INVALID_RANGE'], 404: ['NOT_FOUND'] },
  },
  'GET /api/analytics/overview': {
    summary: 'Every plugin of the store at a glance',
    description:
      'Per plugin (alert endpoints included, as kind `alert`): totals over the range (default the last 24 hours), success rate, p95, backlog ' +
      '(deliveries due now, counted up to 1,000, and the oldest one’s age) and SLO state.',
    errors: { 400: ['INVALID_RANGE'] },
  },
  'GET /api/apps/:slug/analytics': {
    summary: 'Your app’s analytics across its installations',
    description:
      'The numbers of GET /api/analytics/plugins/{slug} (series, totals, per event type) for every delivery to every installation of the ' +
      'app, added up, with the developer key. From per-app rollups: the cost follows the range asked, not the installations or the ' +
      'deliveries. Another developer’s app is not found.',
    errors: { 400: ['INVALID_RANGE'], 401: ['MISSING_DEVELOPER_KEY', 'INVALID_DEVELOPER_KEY'], 404: ['NOT_FOUND'] },
  },
  'POST /api/alerts/endpoints': {
    summary: 'Add an alert endpoint',
    description:
      'An HTTPS endpoint that receives the store’s operational alerts as signed webhooks, through the same outbox and relay as every plugin ' +
      '(it is a plugin of kind `alert`: its secret is at /api/plugins/:slug/secret, its deliveries in the events log). Each alert fires once per ' +
      'transition. The response carries the signing secret.',
    errors: { 400: ['RESERVED_SLUG', 'UNSAFE_WEBHOOK_URL'], 409: ['SLUG_TAKEN'] },
    body: { slug: 'ops-pager', url: 'https://ops.example.com/alerts', events: ['plugin.failing', 'plugin.recovered'] },
  },
  'GET /api/alerts/endpoints': { summary: 'List alert endpoints' },
  'GET /api/alerts/endpoints/:slug': { summary: 'Get an alert endpoint', errors: { 404: ['NOT_FOUND'] } },
  'PATCH /api/alerts/endpoints/:slug': {
    summary: 'Change an alert endpoint',
    description: 'Its name, URL, alerts, or status (`paused` keeps its alerts until it is `active` again).',
    errors: { 400: ['UNSAFE_WEBHOOK_URL'], 404: ['NOT_FOUND'] },
    body: { url: 'https://ops.example.com/alerts-v2' },
  },
  'DELETE /api/alerts/endpoints/:slug': {
    summary: 'Remove an alert endpoint',
    errors: { 404: ['NOT_FOUND'] },
    responses: { 204: { description: 'Removed; alerts not yet delivered to it are cancelled' } },
  },
  'GET /api/plugins/events/stream': {
    summary: 'Live delivery changes (Server-Sent Events)',
    description:
      'A `text/event-stream` of the caller’s deliveries as they change. Event names: `created`, `sent`, `retry` (an attempt failed, ' +
      'another follows), `failed` (for good), `requeued` (redelivery asked for: retry, recover), `disabled` (this attempt disabled its plugin), `cancelled` (its plugin was ' +
      'deleted or its app uninstalled); `ready` once live, `reset` when a resume gap was too long to replay. Every event has an `id` ' +
      '(`<delivery id>:<attempt id>:<xmin>`; a line with an `id` alone moves it on); reconnect with `Last-Event-ID` to get what was ' +
      'missed, including changes committed late; a change committed around the moment the client left may come again (dedupe by ' +
      '`delivery_id`, `change` and `attempt.number`). A `: heartbeat` comment ' +
      'comes every STREAM_HEARTBEAT_MS.',
    responses: { 200: { description: 'The event stream, open until the client leaves', contentType: 'text/event-stream', schema: Text, example: SSE_EXAMPLE } },
  },

  // --- products and inventory
  'POST /api/products': {
    summary: 'Create a product',
    description:
      'Emits `product.created` to every subscribed plugin, in the same transaction. A `price` has at most two decimals ' +
      '(`19.999` is a 400 `INVALID_PRICE`): JSON Schema’s `multipleOf: 0.01` cannot say it, binary floating point makes 19.99 fail it.',
    errors: { 400: ['INVALID_PRICE'] },
    body: { name: 'Test Product', description: 'This will trigger webhooks', price: 19.99 },
  },
  'GET /api/products': { summary: 'List products', description: 'Newest first; page with `cursor`.', errors: { 400: ['INVALID_CURSOR'] } },
  'GET /api/products/:id': { summary: 'Get a product' },
  'PUT /api/products/:id': {
    summary: 'Update a product',
    description: 'Any subset of the fields; emits `product.updated`. A `price` has at most two decimals (else `INVALID_PRICE`).',
    errors: { 400: ['INVALID_PRICE'] },
  },
  'PATCH /api/products/:id': {
    summary: 'Update a product (partial)',
    description: 'The same as PUT. A `price` has at most two decimals (else `INVALID_PRICE`).',
    errors: { 400: ['INVALID_PRICE'] },
  },
  'DELETE /api/products/:id': { summary: 'Delete a product', description: 'Emits `product.deleted`.', responses: { 204: { description: 'Deleted' } } },
  'PUT /api/products/:id/inventory': {
    summary: 'Set or adjust a product’s stock',
    description:
      'Exactly one of `quantity` (set) or `delta` (adjust): neither or both is a 400 `INVALID_STOCK_CHANGE`. Emits `inventory.updated`, ' +
      'and `inventory.low` / `inventory.out` when a threshold is crossed.',
    bodyRules: { minProperties: 1, maxProperties: 1 },
    errors: { 400: ['INVALID_STOCK_CHANGE', 'STOCK_TOO_LARGE'], 409: ['INSUFFICIENT_STOCK'] },
    body: { quantity: 10 },
  },

  // --- customers
  'POST /api/customers': { summary: 'Create a customer', description: 'Emits `customer.created`.', errors: { 409: ['EMAIL_TAKEN'] } },
  'GET /api/customers': { summary: 'List customers', errors: { 400: ['INVALID_CURSOR'] } },
  'GET /api/customers/:id': { summary: 'Get a customer' },
  'PUT /api/customers/:id': { summary: 'Update a customer', description: 'Emits `customer.updated`.', errors: { 409: ['EMAIL_TAKEN'] } },
  'PATCH /api/customers/:id': { summary: 'Update a customer (partial)', description: 'The same as PUT.', errors: { 409: ['EMAIL_TAKEN'] } },
  'DELETE /api/customers/:id': {
    summary: 'Delete a customer',
    errors: { 409: ['CUSTOMER_HAS_ORDERS'] },
    responses: { 204: { description: 'Deleted' } },
  },

  // --- orders
  'POST /api/orders': {
    summary: 'Place an order',
    description:
      'Reserves stock and emits `order.created` (and inventory events). Each product appears in one line only: a product ' +
      'repeated across `items` is a 400 `DUPLICATE_PRODUCT` (JSON Schema’s `uniqueItems` compares whole lines, so it cannot say this).',
    errors: { 400: ['UNKNOWN_CUSTOMER', 'UNKNOWN_PRODUCT', 'DUPLICATE_PRODUCT', 'AMOUNT_TOO_LARGE'], 409: ['INSUFFICIENT_STOCK', 'PRODUCT_UNAVAILABLE'] },
  },
  'GET /api/orders': { summary: 'List orders', errors: { 400: ['INVALID_CURSOR'] } },
  'GET /api/orders/:id': { summary: 'Get an order' },
  'POST /api/orders/:id/pay': { summary: 'Mark an order paid', description: 'Emits `order.paid`.', errors: { 409: ['INVALID_TRANSITION'] }, body: {} },
  'POST /api/orders/:id/ship': { summary: 'Ship an order', description: 'Emits `order.shipped`.', errors: { 409: ['INVALID_TRANSITION'] } },
  'POST /api/orders/:id/deliver': { summary: 'Mark an order delivered', description: 'Emits `order.delivered`.', errors: { 409: ['INVALID_TRANSITION'] }, body: {} },
  'POST /api/orders/:id/cancel': {
    summary: 'Cancel an order',
    description: 'Releases its stock; emits `order.cancelled`.',
    errors: { 409: ['INVALID_TRANSITION'] },
  },

  // --- API keys
  'POST /api/keys': {
    summary: 'Create an API key',
    description: 'The key is in this response only; it is stored as a hash.',
    errors: { 403: ['ADMIN_KEY_REQUIRED'] },
    body: { name: 'ci', admin: false },
  },
  'GET /api/keys': { summary: 'List API keys', description: 'By prefix; a key itself is never shown again.', errors: { 403: ['ADMIN_KEY_REQUIRED'] } },
  'DELETE /api/keys/:id': { summary: 'Revoke an API key', errors: { 403: ['ADMIN_KEY_REQUIRED'] }, responses: { 204: { description: 'Revoked' } } },
}
