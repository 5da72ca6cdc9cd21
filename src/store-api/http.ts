import { errorOf, StoreApiError } from './errors.ts'

export interface HttpOptions {
  /** the API's origin, e.g. http://127.0.0.1:3000 */
  apiUrl: string
  /** defaults to the platform's global fetch */
  fetch?: typeof fetch
}

/**
 * One JSON request to the API: a success's parsed body (undefined for 204), or a
 * typed StoreApiError. `route` names the call in errors (`GET /api/products/{id}`).
 */
export async function callApi(options: HttpOptions, route: string, path: string, init: { method: string; headers: Record<string, string>; body?: unknown }): Promise<unknown> {
  const doFetch = options.fetch ?? globalThis.fetch
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers }
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const response = await doFetch(new URL(path, options.apiUrl), {
    method: init.method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await response.text()
  if (!response.ok) throw errorOf(route, response.status, response.headers, text)
  if (response.status === 204 || text === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    throw new StoreApiError(route, {
      statusCode: response.status,
      error: 'Unexpected response',
      message: `HTTP ${response.status} with a body that is not JSON`,
      code: 'UNEXPECTED_RESPONSE',
    })
  }
}
