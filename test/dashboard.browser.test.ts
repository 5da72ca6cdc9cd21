import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { startApp } from './helpers/app.ts'
import { startReceiver } from './helpers/receiver.ts'

/** Debian's chromium (`.ci/run` installs it); CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARTIFACTS = path.resolve('.data/artifacts')

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`

/** A fresh headless Chromium with a throwaway profile, closed at teardown; every console error and page error is collected. */
async function browser(t: Test): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 1100 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  t.teardown(async () => {
    await context.close()
    await fs.rm(profile, { recursive: true, force: true })
  })
  const page = context.pages()[0] ?? (await context.newPage())
  const errors: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`)
  })
  page.on('pageerror', (error) => errors.push(`page: ${error.message}`))
  // the page must reach nothing but this server
  page.on('request', (request) => {
    if (!/^(http:\/\/127\.0\.0\.1:\d+\/|data:)/.test(request.url())) errors.push(`request elsewhere: ${request.url()}`)
  })
  return { context, page, errors }
}

t.test('the dashboard asks for the API key, shows a delivery made through the API live, and its retry button redelivers it', { skip }, async (t) => {
  let failNext = true
  const receiver = await startReceiver(t, (request) => (request.json?.event === 'product.created' && failNext ? 500 : 200))
  const app = await startApp(t, { AUTH: 'required', WEBHOOK_MAX_RETRIES: '0' })
  const { key } = await createApiKey(app.database.db, DEFAULT_TENANT, { admin: true, name: 'dashboard' })
  const auth = { authorization: `Bearer ${key}` }
  const created = await app.request('POST', '/api/plugins', { name: 'Shop sync', slug: 'shop-sync', webhook_url: receiver.url, events: ['product.created', 'product.updated'] }, auth)
  t.equal(created.status, 201)

  const { page, errors } = await browser(t)
  await page.goto(`${app.url}/`)
  await page.locator('#auth-banner').waitFor({ state: 'visible' })
  t.match(await page.locator('#auth-banner').textContent(), /requires an API key/, 'with keys required, it asks for one before calling the API')

  await page.fill('#key-input', key)
  await page.click('#key-form button[type=submit]')
  await page.locator('[data-plugin="shop-sync"]').waitFor()
  await page.locator('#live.live.live').waitFor()
  t.match(await page.locator('[data-plugin="shop-sync"]').textContent(), /Shop sync.*active.*product\.created/s, 'the plugin, its status and events')

  // a delivery made through the API appears live, and fails (the receiver answers 500)
  const product = (await app.request('POST', '/api/products', { name: 'Lamp', price: 20 }, auth)).body
  const delivery = (await app.request('GET', '/api/plugins/events?plugin=shop-sync', undefined, auth)).body.events[0]
  t.equal(delivery.payload.data.product_id, product.id)
  const failed = page.locator(`#feed li[data-delivery="${delivery.id}"][data-change="failed"]`)
  await failed.waitFor()
  t.ok(await page.locator(`#feed li[data-delivery="${delivery.id}"][data-change="created"]`).count(), 'its creation showed first')

  // its detail: payload, headers sent, the attempt; then the retry button redelivers it
  await failed.click()
  await page.locator(`#detail[data-delivery="${delivery.id}"][data-status="failed"]`).waitFor()
  t.match(await page.locator('#detail').textContent(), new RegExp(`dlv_${delivery.id}.*webhook-id.*${product.id}`, 's'))
  t.equal(await page.locator('#detail tr[data-attempt]').count(), 1)
  failNext = false
  await page.click('#detail button[data-action="retry"]')
  await page.locator(`#detail[data-delivery="${delivery.id}"][data-status="sent"]`).waitFor()
  t.equal(await page.locator('#detail tr[data-attempt]').count(), 2, 'the redelivery is a second attempt of the same delivery')
  await page.locator(`#feed li[data-delivery="${delivery.id}"][data-change="sent"]`).waitFor()
  t.same(receiver.received.filter((r) => r.json?.event === 'product.created').map((r) => r.headers['webhook-id']), [`dlv_${delivery.id}`, `dlv_${delivery.id}`])

  // the numbers catch up: one sent, one failed attempt in the chart and the table
  // (from the analytics rollups: one attempt failed for good, then the redelivery was sent: 1 ÷ 2 settled)
  await page.locator('[data-plugin="shop-sync"] td.num >> text=50.0%').waitFor()
  t.ok(await page.locator('#chart rect.bar-sent').count(), 'the chart shows the sent attempt')
  t.ok(await page.locator('#chart rect.bar-failed, #chart rect.bar-retry').count(), 'and the failed one')

  await fs.mkdir(ARTIFACTS, { recursive: true })
  const shot = path.join(ARTIFACTS, 'dashboard.png')
  await page.screenshot({ path: shot, fullPage: true })
  t.ok((await fs.stat(shot)).size > 10_000, `screenshot saved to ${path.relative(process.cwd(), shot)}`)
  t.same(errors, [], 'no console error, no page error, no request elsewhere')
})

t.test('the API docs page runs under its CSP without a console error', { skip }, async (t) => {
  const app = await startApp(t, { RELAY: 'off', AUTH: 'required' })
  const { page, errors } = await browser(t)
  await page.goto(`${app.url}/docs`)
  await page.locator('.swagger-ui .info .title').waitFor()
  t.match(await page.locator('.swagger-ui .info .title').textContent(), /BetterCallSold plugin system/)
  await page.locator('.opblock-tag-section').first().waitFor()
  t.ok((await page.locator('.opblock').count()) >= 20, 'every operation is listed')
  t.same(errors, [], 'no console error (a CSP violation would be one)')
})
