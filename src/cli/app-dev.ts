import fs from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { InstallationAuth } from '../app-auth/index.ts'
import { isAppLifecycleEvent, verifyWebhook, WebhookVerificationError, type BetterCallSoldEvent } from '../receiver/index.ts'
import { StoreClient } from '../store-api/index.ts'
import { callApi } from '../store-api/http.ts'
import { CREDENTIALS_FILE, readManifest } from './app-publish.ts'

export interface DevContext {
  /** a store API client for the store that sent the event */
  store(): Promise<StoreClient>
  log(line: string): void
}
type Handler = (event: BetterCallSoldEvent, context: DevContext) => unknown

interface Credentials {
  api_url?: string
  client_id?: string
  client_secret?: string
  signing_secret?: string
}

// Deliveries are at-least-once: a retried id is shown as such and not handled twice. Bounded.
const MAX_SEEN = 10_000

/**
 * `bin/app dev`: the app's handler behind a receiver that verifies every
 * delivery with the app's signing secret, prints it, and hands it to the handler
 * with a store client for the installation it came from. Listens where the
 * manifest's webhook_url points (on 127.0.0.1), unless told a port.
 */
export async function runDev(dir: string, options: { port?: number; apiUrl?: string; log?: (line: string) => void }): Promise<Server> {
  const log = options.log ?? console.log
  const manifest = await readManifest(dir)
  const saved: Credentials = await fs.readFile(path.join(dir, CREDENTIALS_FILE), 'utf8').then(JSON.parse, () => ({}))
  const signingSecret = process.env.APP_SIGNING_SECRET ?? saved.signing_secret
  if (!signingSecret) throw new Error(`no signing secret: publish first (bin/app publish ${dir} writes ${CREDENTIALS_FILE}) or set APP_SIGNING_SECRET`)
  const apiUrl = options.apiUrl ?? saved.api_url ?? 'http://127.0.0.1:3000'
  const clientId = process.env.APP_CLIENT_ID ?? saved.client_id
  const clientSecret = process.env.APP_CLIENT_SECRET ?? saved.client_secret
  const auth = clientId && clientSecret ? new InstallationAuth({ apiUrl, clientId, clientSecret }) : undefined

  const handlerFile = path.resolve(dir, 'handler.mjs')
  const handler = ((await import(pathToFileURL(handlerFile).href)) as { default?: Handler }).default
  if (typeof handler !== 'function') throw new Error(`${handlerFile} must export a default function (event, context)`)

  const webhook = new URL(String(manifest.webhook_url))
  const port = options.port ?? Number(webhook.port || (webhook.protocol === 'https:' ? 443 : 80))
  const hookPath = webhook.pathname

  // store → installation, from app.installed: what context.store() acts as
  const installations = new Map<string, string>()
  const developerKey = process.env.BCS_DEVELOPER_KEY
  /** A store installed before this process started: asked of the developer's installations list, when the key is at hand. */
  async function lookUp(tenantId: string): Promise<string | undefined> {
    if (!developerKey) return undefined
    let cursor: string | null = null
    do {
      const query: string = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
      const page = (await callApi({ apiUrl }, 'GET /api/apps/{slug}/installations', `/api/apps/${String(manifest.slug)}/installations?${query}`, {
        method: 'GET',
        headers: { authorization: `Bearer ${developerKey}` },
      })) as { installations: { installation_id: string; tenant_id: string; status: string }[]; next_cursor: string | null }
      const found = page.installations.find((i) => i.tenant_id === tenantId && i.status === 'active')
      if (found) return found.installation_id
      cursor = page.next_cursor
    } while (cursor)
    return undefined
  }
  const seen = new Set<string>()

  const server = createServer(async (req, res) => {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== hookPath) return void res.writeHead(404).end()
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    let event: BetterCallSoldEvent
    try {
      event = verifyWebhook(signingSecret, req.headers, Buffer.concat(chunks))
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error
      log(`✘ refused a delivery: ${error.reason} (${error.message})`)
      return void res.writeHead(400).end()
    }
    const id = String(req.headers['webhook-id'])
    if (seen.has(id)) {
      log(`↺ ${event.event} ${id} again (already handled)`)
      return void res.writeHead(204).end()
    }
    log(`→ ${event.event} ${id} store ${event.tenant_id}\n${JSON.stringify(event.data, null, 2)}`)
    if (isAppLifecycleEvent(event)) {
      if (event.event === 'app.uninstalled') {
        installations.delete(event.tenant_id)
        auth?.forget(event.data.installation_id)
      } else installations.set(event.tenant_id, event.data.installation_id)
    }
    const context: DevContext = {
      log: (line) => log(`  ${line}`),
      store: async () => {
        if (!installations.has(event.tenant_id)) {
          const found = await lookUp(event.tenant_id)
          if (found) installations.set(event.tenant_id, found)
        }
        const installationId = installations.get(event.tenant_id)
        if (!auth) throw new Error(`no client credentials: publish first (${CREDENTIALS_FILE}) or set APP_CLIENT_ID and APP_CLIENT_SECRET`)
        if (!installationId) throw new Error(`no installation known for store ${event.tenant_id} (bin/app dev learns them from app.installed, or from your installations with BCS_DEVELOPER_KEY set)`)
        return new StoreClient({ apiUrl, auth: auth.forInstallation(installationId) })
      },
    }
    try {
      await handler(event, context)
      seen.add(id)
      if (seen.size > MAX_SEEN) seen.delete(seen.values().next().value as string)
      log(`✔ ${event.event} ${id} handled`)
      res.writeHead(204).end()
    } catch (error) {
      log(`✘ ${event.event} ${id}: the handler failed (answered 500; the platform retries): ${error instanceof Error ? error.message : String(error)}`)
      res.writeHead(500).end()
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  log(`bin/app dev: ${String(manifest.slug)} listening on http://127.0.0.1:${port}${hookPath} (API ${apiUrl}); Ctrl-C stops`)
  return server
}
