import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { startApp } from './helpers/app.ts'
import { startReceiver } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`

t.test('the analytics view lists the plugins, and draws one plugin’s volume, percentiles, causes, event types and SLO with uPlot', { skip }, async (t) => {
  const receiver = await startReceiver(t, (request) => (request.json?.data?.name?.startsWith('Broken') ? 503 : 200))
  const app = await startApp(t, { WEBHOOK_MAX_RETRIES: '1' })
  await app.request('POST', '/api/plugins', {
    name: 'Shop sync', slug: 'shop-sync', webhook_url: receiver.url, events: ['product.created', 'product.updated'], slo: { success_rate: 0.95, latency_p95_ms: 300 },
  })
  await app.request('POST', '/api/alerts/endpoints', { slug: 'ops', url: receiver.url })
  for (const name of ['Lamp', 'Desk', 'Chair', 'Broken lamp']) {
    const product = (await app.request('POST', '/api/products', { name, price: 10 })).body
    await app.request('PATCH', `/api/products/${product.id}`, { price: 12 })
  }
  await waitFor(async () => (await app.request('GET', '/api/analytics/plugins/shop-sync')).body.totals.attempts === 10, { message: 'every attempt in the rollups' })
  // 8 deliveries: the broken lamp's two fail twice each (4 failed attempts), the other six are sent

  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 1100 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(async () => {
    await context.close()
    await fs.rm(profile, { recursive: true, force: true })
  })
  const page = context.pages()[0] ?? (await context.newPage())
  const errors: string[] = []
  page.on('console', (m) => void (m.type() === 'error' && errors.push(`console: ${m.text()}`)))
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`))
  page.on('request', (r) => void (!/^(http:\/\/127\.0\.0\.1:\d+\/|data:)/.test(r.url()) && errors.push(`request elsewhere: ${r.url()}`)))

  await page.goto(`${app.url}/`)
  const row = page.locator('#analytics tr[data-overview="shop-sync"]')
  await row.waitFor()
  t.match(await row.textContent(), /shop-sync.*active.*10.*75%.*ticket · -700% left/s, 'the overview: attempts, success (of settled deliveries), SLO state (60 % of attempts succeeded: 8× the budget rate)')
  t.match(await page.locator('#analytics tr[data-overview="ops"]').textContent(), /ops \(alerts\)/, 'alert endpoints are marked')

  await row.click()
  await page.locator('#analytics [data-analytics-plugin="shop-sync"]').waitFor()
  t.equal(await page.locator('#analytics .chart canvas').count(), 2, 'two uPlot charts: volume by outcome and p50/p95/p99')
  t.match(await page.locator('#analytics .u-legend').first().textContent(), /failed.*retried.*sent/s)
  t.match(await page.locator('#analytics .u-legend').nth(1).textContent(), /p50.*p95.*p99/s)
  t.match(await page.locator('#analytics tr[data-cause="http_5xx"]').textContent(), /http_5xx\s*4/, 'failures by cause')
  t.equal(await page.locator('#analytics tr[data-event]').count(), 2, 'volume by event type')
  t.match(await page.locator('#analytics .slo').textContent(), /Objective 95% success, p95 ≤ 300 ms · state: ticket.*budget left over 30 days: -700%/s, 'the SLO and its budget')

  for (const range of ['1h', '7d', '30d', '90d']) {
    await page.click(`#analytics-ranges button[data-range="${range}"]`)
    await page.locator(`#analytics-ranges button.active[data-range="${range}"]`).waitFor()
    await page.locator('#analytics [data-analytics-plugin="shop-sync"]').waitFor()
  }
  await page.click('#analytics-ranges button[data-range="24h"]')
  await page.locator('#analytics-ranges button.active[data-range="24h"]').waitFor()
  await page.locator('#analytics .chart canvas').nth(1).waitFor()
  // to the harness's artifacts folder, as the dashboard test does: a test run changes no tracked file
  // (docs/analytics.png is a copy of it, taken by hand)
  const artifacts = process.env.TEST_ARTIFACTS_DIR ?? path.join(os.tmpdir(), 'bettercallsold-test-artifacts')
  await fs.mkdir(artifacts, { recursive: true })
  const shot = path.join(artifacts, 'analytics.png')
  await page.locator('#analytics').screenshot({ path: shot })
  t.ok((await fs.stat(shot)).size > 10_000, `screenshot of the analytics view saved to ${shot}`)
  t.same(errors, [], 'no console error (a CSP violation would be one), no page error, no request elsewhere')
})
