// @ts-check
// A sample BetterCallSold app (docs/apps.md): when a product of a store that
// installed it falls to its low-stock threshold, it reads the product through
// the store API with an installation access token and writes a line for the
// store owner. Plain JavaScript on Node 20, no framework; the SDK through its
// package exports, typed for editors through the JSDoc below.
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { InstallationAuth } from 'bettercallsold-plugins-sdk/auth'
import { verifyWebhook, WebhookVerificationError } from 'bettercallsold-plugins-sdk/receiver'
import { StoreApiError, StoreClient } from 'bettercallsold-plugins-sdk/store'

const here = path.dirname(new URL(import.meta.url).pathname)

/** The API and the app's credentials: from the environment, else the file `bin/app publish` writes beside the manifest. */
async function credentials() {
  const file = process.env.APP_CREDENTIALS_FILE ?? path.join(here, '.credentials.json')
  /** @type {{ api_url?: string, client_id?: string, client_secret?: string, signing_secret?: string }} */
  const saved = await fs.readFile(file, 'utf8').then(JSON.parse, () => ({}))
  const found = {
    apiUrl: process.env.BCS_API_URL ?? saved.api_url ?? 'http://127.0.0.1:3000',
    clientId: process.env.APP_CLIENT_ID ?? saved.client_id,
    clientSecret: process.env.APP_CLIENT_SECRET ?? saved.client_secret,
    signingSecret: process.env.APP_SIGNING_SECRET ?? saved.signing_secret,
  }
  if (!found.clientId || !found.clientSecret || !found.signingSecret) {
    console.error(`low-stock-notifier: set APP_CLIENT_ID, APP_CLIENT_SECRET and APP_SIGNING_SECRET, or publish first (bin/app publish writes ${file})`)
    process.exit(2)
  }
  return /** @type {{ apiUrl: string, clientId: string, clientSecret: string, signingSecret: string }} */ (found)
}

const port = Number(process.env.PORT ?? 4100)
const notesFile = process.env.NOTES_FILE ?? path.join(here, 'low-stock.log')
// store → installation: what app.installed tells the app, kept across restarts
const stateFile = process.env.STATE_FILE ?? path.join(here, 'installations.json')

const { apiUrl, clientId, clientSecret, signingSecret } = await credentials()
const auth = new InstallationAuth({ apiUrl, clientId, clientSecret })

/** @type {Record<string, string>} tenant id → installation id */
const installations = await fs.readFile(stateFile, 'utf8').then(JSON.parse, () => ({}))
const save = () => fs.writeFile(stateFile, JSON.stringify(installations, null, 2))

/** A line for the store owner: on stdout, and appended to the notes file. */
async function note(line) {
  const stamped = `${new Date().toISOString()} ${line}`
  console.log(stamped)
  await fs.appendFile(notesFile, `${stamped}\n`)
}

/** @param {import('bettercallsold-plugins-sdk/receiver').BetterCallSoldEvent} event */
async function handle(event) {
  switch (event.event) {
    case 'app.installed':
      installations[event.tenant_id] = event.data.installation_id
      await save()
      await note(`installed in store ${event.tenant_id} (installation ${event.data.installation_id}, permissions ${event.data.permissions.join(', ')})`)
      return
    case 'app.uninstalled':
      delete installations[event.tenant_id]
      await save()
      auth.forget(event.data.installation_id)
      await note(`uninstalled from store ${event.tenant_id}`)
      return
    case 'inventory.low': {
      const installationId = installations[event.tenant_id]
      if (!installationId) return console.warn(`inventory.low from store ${event.tenant_id}, which this app has no installation for: ignored`)
      const store = new StoreClient({ apiUrl, auth: auth.forInstallation(installationId) })
      try {
        // the event says what changed; the product (price, status) is read from the API, as the store has it now
        const product = await store.products.get(event.data.product_id)
        await note(
          `store ${event.tenant_id}: "${product.name}" is low on stock: ${product.inventory_quantity} left ` +
            `(threshold ${product.low_stock_threshold}, price ${product.price.toFixed(2)}, ${product.status})`,
        )
      } catch (error) {
        // refused for good (uninstalled, permission withdrawn, product deleted): noted, not retried
        if (!(error instanceof StoreApiError) || error.statusCode >= 500 || error.statusCode === 429) throw error
        await note(`store ${event.tenant_id}: could not read product ${event.data.product_id}: ${error.statusCode} ${error.code}`)
      }
      return
    }
    default:
      // app.config_updated, app.permissions_updated, and events a newer server may add
      return
  }
}

const server = http.createServer((request, response) => {
  if (request.method !== 'POST' || request.url !== '/webhooks') return response.writeHead(404).end()
  /** @type {Buffer[]} */
  const chunks = []
  request.on('data', (chunk) => chunks.push(chunk))
  request.on('end', async () => {
    let event
    try {
      // the raw bytes, exactly as received: that is what the signature covers
      event = verifyWebhook(signingSecret, request.headers, Buffer.concat(chunks))
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error
      console.warn(`refused a delivery: ${error.reason}`)
      return response.writeHead(400).end()
    }
    try {
      await handle(event)
      response.writeHead(204).end()
    } catch (error) {
      // a 5xx makes the platform retry the delivery later
      console.error(`${event.event} ${request.headers['webhook-id']} failed:`, error)
      response.writeHead(503).end()
    }
  })
})

server.listen(port, '127.0.0.1', () => console.log(`low-stock-notifier listening on http://127.0.0.1:${port}/webhooks (API ${apiUrl}, notes in ${notesFile})`))
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.close(() => process.exit(0)))
