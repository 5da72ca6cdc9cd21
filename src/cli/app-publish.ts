import fs from 'node:fs/promises'
import path from 'node:path'
import { CreateAppBody, type PublishAppBody } from '../apps/app.schemas.ts'
import { checkManifest } from '../apps/manifest.ts'
import { AppError } from '../errors.ts'
import { bodyProblems } from '../http/validation.ts'
import { StoreApiError } from '../store-api/errors.ts'
import { callApi } from '../store-api/http.ts'

export const CREDENTIALS_FILE = '.credentials.json'

/** A manifest the server would refuse, said as the server says it: the code, and each field with what is wrong. */
export class ManifestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export async function readManifest(dir: string): Promise<Record<string, unknown>> {
  const file = path.join(dir, 'app.json')
  const text = await fs.readFile(file, 'utf8').catch(() => {
    throw new ManifestError('NO_MANIFEST', `${file} not found (bin/app init ${dir} makes one)`)
  })
  let manifest: unknown
  try {
    manifest = JSON.parse(text)
  } catch (error) {
    throw new ManifestError('INVALID_JSON', `${file} is not JSON: ${(error as Error).message}`)
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new ManifestError('INVALID_JSON', `${file} must hold a JSON object`)
  return manifest as Record<string, unknown>
}

/**
 * The checks POST /api/apps makes, made here first with the server's own code:
 * its schema (CreateAppBody) through its validator's words, then checkManifest.
 * Only the webhook URL's network guard is left to the server, which alone knows
 * whether it delivers to private addresses (a local server does).
 */
export function checkManifestLocally(manifest: Record<string, unknown>): void {
  const problems = bodyProblems(CreateAppBody, structuredClone(manifest))
  if (problems.length > 0) throw new ManifestError('VALIDATION_ERROR', problems.map((p) => `${p.field} ${p.problem}`).join('; '))
  try {
    checkManifest(manifest as PublishAppBody, { ALLOW_PRIVATE_WEBHOOKS: true, HTTPS_ONLY: false })
  } catch (error) {
    if (error instanceof AppError) throw new ManifestError(error.code, error.message)
    throw error
  }
}

/** The answer of a refused request, as the server gave it: code, message, and each field of `details`. */
export function describeRefusal(error: StoreApiError): string {
  const fields = (error.details ?? []).map((d) => `\n  ${d.field}: ${d.problem}`).join('')
  return `${error.statusCode} ${error.code}: ${error.message}${fields}`
}

/**
 * `bin/app publish`: checks the manifest, then creates the app (the first time;
 * its credentials are written to .credentials.json, readable by you only) or
 * publishes the manifest as its new version.
 */
export async function publishApp(dir: string, options: { apiUrl: string; developerKey: string }): Promise<string> {
  const manifest = await readManifest(dir)
  checkManifestLocally(manifest)
  const slug = String(manifest.slug)
  const http = { apiUrl: options.apiUrl }
  const headers = { authorization: `Bearer ${options.developerKey}` }
  const existing = await callApi(http, 'GET /api/apps/{slug}', `/api/apps/${slug}`, { method: 'GET', headers }).catch((error: unknown) => {
    if (error instanceof StoreApiError && error.statusCode === 404) return undefined
    throw error
  })
  if (!existing) {
    const created = (await callApi(http, 'POST /api/apps', '/api/apps', { method: 'POST', headers, body: manifest })) as Record<string, string>
    const file = path.join(dir, CREDENTIALS_FILE)
    const credentials = { api_url: options.apiUrl, slug, client_id: created.client_id, client_secret: created.client_secret, signing_secret: created.signing_secret }
    await fs.writeFile(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 })
    return [
      `Created app ${slug} ${created.version} (client_id ${created.client_id}).`,
      `Its client_secret and signing_secret are in ${file} (shown this once by the API; keep them out of git).`,
    ].join('\n')
  }
  const { slug: _slug, ...version } = manifest
  const published = (await callApi(http, 'PUT /api/apps/{slug}', `/api/apps/${slug}`, { method: 'PUT', headers, body: version })) as {
    app: { version: string }
    installations: { followed: number; pending: number }
  }
  return `Published ${slug} ${published.app.version}: ${published.installations.followed} installation(s) moved to it, ${published.installations.pending} wait for their store's approval.`
}
