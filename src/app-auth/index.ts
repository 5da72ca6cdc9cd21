// Installation auth for app developers: `bettercallsold-plugins-sdk/auth` (sdk/package.json).
//
// An app holds no long-lived secret per store: it mints an installation access
// token from its own client credentials whenever it needs one (GitHub Apps'
// model, docs/apps.md). This helper does that, keeps each installation's token
// until shortly before it expires, and lets concurrent callers share one mint.

import type { StoreOperations } from '../store-api/api-types.ts'
import { StoreApiError } from '../store-api/errors.ts'
import { callApi } from '../store-api/http.ts'

const TOKEN_ROUTE = 'POST /api/apps/installations/{installation_id}/access_tokens'

/** What the token route answers: the token, when it expires, and the installation's permissions then. */
export type AccessToken = StoreOperations[typeof TOKEN_ROUTE]['response']

export interface InstallationAuthOptions {
  /** the API's origin, e.g. http://127.0.0.1:3000 */
  apiUrl: string
  /** the app's client_id (`app_…`) and client_secret (`bcs_cs_…`), from `POST /api/apps` */
  clientId: string
  clientSecret: string
  /**
   * Mint a new token this long before the cached one expires (default 300 s), so
   * a request never leaves with a token that dies on the way. At most half a
   * token's lifetime, so a short-lived token is not re-minted on every call.
   */
  refreshBeforeSeconds?: number
  /** defaults to the global fetch */
  fetch?: typeof fetch
  /** the clock, in milliseconds; defaults to Date.now */
  now?: () => number
}

/** A source of tokens for one installation, as the store client takes it. */
export interface TokenSource {
  token(): Promise<string>
  /** the API refused `token`: forget it, so the next call mints another */
  reject(token: string): void
}

interface Cached {
  token: AccessToken
  refreshAt: number
  expiresAt: number
}

export class InstallationAuth {
  readonly #options: InstallationAuthOptions
  readonly #cache = new Map<string, Cached>()
  // one mint in flight per installation: a burst of events shares it
  readonly #minting = new Map<string, Promise<Cached>>()
  #mints = 0

  constructor(options: InstallationAuthOptions) {
    if (!options.clientId || !options.clientSecret) throw new TypeError('InstallationAuth needs the app’s clientId and clientSecret')
    this.#options = options
  }

  /** How many tokens this helper has minted (each a request to the API). */
  get mints(): number {
    return this.#mints
  }

  /** A token for the installation: the cached one while it is fresh, else a new one. */
  async token(installationId: string): Promise<string> {
    return (await this.accessToken(installationId)).token
  }

  /** The whole answer of the token route (token, expires_at, permissions, tenant_id), cached as `token()` is. */
  async accessToken(installationId: string): Promise<AccessToken> {
    const now = this.#now()
    const cached = this.#cache.get(installationId)
    if (cached && now < cached.refreshAt) return cached.token
    let minting = this.#minting.get(installationId)
    if (!minting) {
      minting = this.#mint(installationId).finally(() => this.#minting.delete(installationId))
      this.#minting.set(installationId, minting)
    }
    try {
      return (await minting).token
    } catch (error) {
      // the API answered no (uninstalled: 404; credentials revoked: 401): the cached token is no good either
      if (error instanceof StoreApiError && error.statusCode < 500 && error.statusCode !== 429) {
        this.#cache.delete(installationId)
        throw error
      }
      // the API is unreachable or busy: a token that has not expired yet still works
      if (cached && this.#now() < cached.expiresAt) return cached.token
      throw error
    }
  }

  /** The API refused this token (401): drop it if it is still the cached one. */
  reject(installationId: string, token: string): void {
    if (this.#cache.get(installationId)?.token.token === token) this.#cache.delete(installationId)
  }

  /** The app was uninstalled: drop the installation's token. */
  forget(installationId: string): void {
    this.#cache.delete(installationId)
  }

  /** The token source of one installation, for `new StoreClient({ auth: … })`. */
  forInstallation(installationId: string): TokenSource {
    return { token: () => this.token(installationId), reject: (token) => this.reject(installationId, token) }
  }

  async #mint(installationId: string): Promise<Cached> {
    const { apiUrl, clientId, clientSecret } = this.#options
    const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64')
    this.#mints++
    const minted = (await callApi(
      { apiUrl, fetch: this.#options.fetch },
      TOKEN_ROUTE,
      `/api/apps/installations/${encodeURIComponent(installationId)}/access_tokens`,
      { method: 'POST', headers: { authorization: `Basic ${basic}` } },
    )) as AccessToken
    const now = this.#now()
    const expiresAt = Date.parse(minted.expires_at)
    const lifetime = Math.max(0, expiresAt - now)
    const margin = Math.min((this.#options.refreshBeforeSeconds ?? 300) * 1000, lifetime / 2)
    const cached = { token: minted, refreshAt: expiresAt - margin, expiresAt }
    this.#cache.set(installationId, cached)
    return cached
  }

  #now(): number {
    return (this.#options.now ?? Date.now)()
  }
}

export { StoreApiError } from '../store-api/errors.ts'
