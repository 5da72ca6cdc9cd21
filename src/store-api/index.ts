// The store API client for app developers: `bettercallsold-plugins-sdk/store` (sdk/package.json).
//
// Every route an installation token may call (src/apps/permissions.ts), typed
// from the OpenAPI document the server serves (api-types.ts is generated:
// `npm run generate:store-client-types`). Built on the platform's fetch; every
// refusal is a typed StoreApiError carrying the API's code, statusCode and details.

import type { StoreOperations } from './api-types.ts'
import { StoreApiError } from './errors.ts'
import { callApi } from './http.ts'

export type * from './api-types.ts'
export * from './errors.ts'

/** A route the client calls, as `GET /api/products/{id}`. */
export type StoreRoute = keyof StoreOperations
type Op<R extends StoreRoute> = StoreOperations[R]

/** What a call of `route` takes: path parameters and body where the route has them, the query always optional. */
export type RequestParts<R extends StoreRoute> = (Op<R>['params'] extends Record<string, never> ? { params?: undefined } : { params: Op<R>['params'] }) & {
  query?: Op<R>['query']
} & (Op<R>['body'] extends undefined ? { body?: undefined } : { body?: Op<R>['body'] })

/** Where the client gets its bearer token: a fixed one, or a source that mints and refreshes (InstallationAuth#forInstallation). */
export type StoreAuth = string | { token(): Promise<string>; reject?(token: string): void }

export interface StoreClientOptions {
  /** the API's origin, e.g. http://127.0.0.1:3000 */
  apiUrl: string
  auth: StoreAuth
  /** defaults to the global fetch */
  fetch?: typeof fetch
}

/** Fills `{id}` in a route's path from `params`, each value URL-encoded. */
function pathOf(route: string, params: Record<string, unknown> | undefined, query: Record<string, unknown> | undefined): string {
  const template = route.slice(route.indexOf(' ') + 1)
  const path = template.replace(/\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const value = params?.[name]
    if (value === undefined || value === null || value === '') throw new TypeError(`${route}: the path parameter ${name} is missing`)
    return encodeURIComponent(String(value))
  })
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) search.set(key, String(value))
  const text = search.toString()
  return text ? `${path}?${text}` : path
}

export class StoreClient {
  readonly #options: StoreClientOptions

  constructor(options: StoreClientOptions) {
    this.#options = options
  }

  /**
   * Calls one route. A token the API no longer accepts (401) is handed back to
   * its source, so the next call mints a fresh one; an expired one is retried
   * once at once with a fresh token (a clock running behind the server's can
   * keep a token a little too long).
   */
  async request<R extends StoreRoute>(route: R, parts: RequestParts<R> = {} as RequestParts<R>): Promise<Op<R>['response']> {
    const method = route.slice(0, route.indexOf(' '))
    const path = pathOf(route, parts.params as Record<string, unknown> | undefined, parts.query as Record<string, unknown> | undefined)
    const body = parts.body ?? (method === 'POST' || method === 'PUT' || method === 'PATCH' ? {} : undefined)
    const { auth } = this.#options
    for (let attempt = 1; ; attempt++) {
      const token = typeof auth === 'string' ? auth : await auth.token()
      try {
        return (await callApi(this.#options, route, path, { method, headers: { authorization: `Bearer ${token}` }, body })) as Op<R>['response']
      } catch (error) {
        if (!(error instanceof StoreApiError) || error.statusCode !== 401 || typeof auth === 'string') throw error
        auth.reject?.(token)
        if (error.code !== 'ACCESS_TOKEN_EXPIRED' || attempt > 1) throw error
      }
    }
  }

  readonly products = {
    list: (query?: Op<'GET /api/products'>['query']) => this.request('GET /api/products', { query }),
    get: (id: string) => this.request('GET /api/products/{id}', { params: { id } }),
    create: (body: Op<'POST /api/products'>['body']) => this.request('POST /api/products', { body }),
    replace: (id: string, body: Op<'PUT /api/products/{id}'>['body']) => this.request('PUT /api/products/{id}', { params: { id }, body }),
    update: (id: string, body: Op<'PATCH /api/products/{id}'>['body']) => this.request('PATCH /api/products/{id}', { params: { id }, body }),
    delete: (id: string) => this.request('DELETE /api/products/{id}', { params: { id } }),
    setInventory: (id: string, body: Op<'PUT /api/products/{id}/inventory'>['body']) =>
      this.request('PUT /api/products/{id}/inventory', { params: { id }, body }),
  }

  readonly customers = {
    list: (query?: Op<'GET /api/customers'>['query']) => this.request('GET /api/customers', { query }),
    get: (id: string) => this.request('GET /api/customers/{id}', { params: { id } }),
    create: (body: Op<'POST /api/customers'>['body']) => this.request('POST /api/customers', { body }),
    replace: (id: string, body: Op<'PUT /api/customers/{id}'>['body']) => this.request('PUT /api/customers/{id}', { params: { id }, body }),
    update: (id: string, body: Op<'PATCH /api/customers/{id}'>['body']) => this.request('PATCH /api/customers/{id}', { params: { id }, body }),
    delete: (id: string) => this.request('DELETE /api/customers/{id}', { params: { id } }),
  }

  readonly orders = {
    list: (query?: Op<'GET /api/orders'>['query']) => this.request('GET /api/orders', { query }),
    get: (id: string) => this.request('GET /api/orders/{id}', { params: { id } }),
    create: (body: Op<'POST /api/orders'>['body']) => this.request('POST /api/orders', { body }),
    pay: (id: string) => this.request('POST /api/orders/{id}/pay', { params: { id } }),
    ship: (id: string, body?: Op<'POST /api/orders/{id}/ship'>['body']) => this.request('POST /api/orders/{id}/ship', { params: { id }, body }),
    deliver: (id: string) => this.request('POST /api/orders/{id}/deliver', { params: { id } }),
    cancel: (id: string, body?: Op<'POST /api/orders/{id}/cancel'>['body']) => this.request('POST /api/orders/{id}/cancel', { params: { id }, body }),
  }
}
