import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chromium, type Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { parseMarkdown, safeHref, type Block, type Inline } from '../src/dashboard/client/markdown.ts'
import { DEFAULT_TENANT } from '../src/http/tenant.ts'
import { startApp } from './helpers/app.ts'
import { bearer, developerKey, manifest, startAppServer, storeKey } from './helpers/apps.ts'
import { startReceiver } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

/** Debian's chromium, as in dashboard.browser.test.ts; CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** Screenshots go to the harness's artifacts folder; docs/marketplace*.png are copies taken by hand, so a run changes no tracked file. */
const ARTIFACTS = process.env.TEST_ARTIFACTS_DIR ?? path.join(os.tmpdir(), 'bettercallsold-test-artifacts')
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`

/** A description that tries every way in: raw HTML, event handlers, script links, encoded schemes. The API refuses it at publish; the test writes it to the database, as a bug or an older row could. */
const HOSTILE = [
  '# Notes <script>window.__pwned = "heading"</script>',
  '',
  '<img src=x onerror="window.__pwned = \'img\'">',
  '',
  '[click me](javascript:window.__pwned=1) [data](data:text/html,<script>alert(1)</script>) [encoded](jav&#x61;script:alert(1)) [docs](https://notes.example/docs)',
  '',
  '![pic](javascript:alert(1)) <a href="javascript:alert(1)" onclick="window.__pwned=2">raw</a>',
  '',
  '- a **list** with `<b>code</b>`',
  '> <iframe src="javascript:alert(1)"></iframe>',
].join('\n')

const links = (blocks: Block[]): Inline[] =>
  blocks.flatMap((b) => {
    const inlines = b.t === 'p' || b.t === 'h' ? b.c : b.t === 'ul' || b.t === 'ol' ? b.items.flat() : b.t === 'quote' ? links(b.c) : []
    return inlines.flatMap(function walk(i: Inline): Inline[] {
      return i.t === 'link' ? [i, ...i.c.flatMap(walk)] : i.t === 'strong' || i.t === 'em' ? i.c.flatMap(walk) : []
    })
  })

t.test('the description parser turns only absolute http(s) targets into links, and HTML into text', async (t) => {
  const hrefs = links(parseMarkdown(HOSTILE)).map((l) => l.t === 'link' && l.href)
  t.same(hrefs.filter(Boolean), ['https://notes.example/docs'], 'one link keeps its target: the https one')
  t.ok(hrefs.filter((href) => href === null).length >= 3, 'javascript:, encoded and image links lose theirs')
  t.equal(safeHref(' JaVaScRiPt:alert(1)'), null)
  t.equal(safeHref('//evil.example/x'), null, 'no scheme-relative link')
  t.equal(safeHref('https://ok.example/a b'), 'https://ok.example/a%20b')
  t.match(parseMarkdown('# Title\n\ntext *em* **strong** `code`\n\n1. one\n2. two'), [
    { t: 'h', level: 1, c: [{ t: 'text', v: 'Title' }] },
    { t: 'p', c: [{ t: 'text', v: 'text ' }, { t: 'em' }, { t: 'text', v: ' ' }, { t: 'strong' }, { t: 'text', v: ' ' }, { t: 'code', v: 'code' }] },
    { t: 'ol', items: [[{ t: 'text', v: 'one' }], [{ t: 'text', v: 'two' }]] },
  ])
})

/** Chromium logs every 4xx answer as a console error; the refusals a test provokes on purpose are counted apart. */
const REFUSED = /^console: Failed to load resource: the server responded with a status of 4\d\d/

async function launch(t: Test): Promise<{ page: Page; errors: string[]; statuses: number[] }> {
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  t.teardown(async () => {
    await context.close()
    await fs.rm(profile, { recursive: true, force: true })
  })
  const page = context.pages()[0] ?? (await context.newPage())
  const errors: string[] = []
  page.on('console', (m) => void (m.type() === 'error' && errors.push(`console: ${m.text()}`)))
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`))
  page.on('dialog', (d) => {
    errors.push(`a native dialog opened: ${d.message()}`)
    void d.dismiss()
  })
  page.on('request', (r) => void (!/^(http:\/\/127\.0\.0\.1:\d+\/|data:)/.test(r.url()) && errors.push(`request elsewhere: ${r.url()}`)))
  // what the API answered the dashboard, refusals included
  const statuses: number[] = []
  page.on('response', (r) => void (r.url().includes('/api/') && statuses.push(r.status())))
  return { page, errors, statuses }
}

t.test(
  'a store owner finds an app despite a typo, installs it through its generated form (one invalid field, then fixed), sees app.installed arrive live, manages and uninstalls it',
  { skip },
  async (t) => {
    const app = await startApp(t, { AUTH: 'required' })
    const appServer = await startAppServer(t)
    const receiver = await startReceiver(t, () => 200)
    const developer = await developerKey(app)
    const publish = async (slug: string, overrides: Record<string, unknown> = {}) => {
      const published = await app.request('POST', '/api/apps', { slug, ...manifest(appServer.url, overrides) }, bearer(developer))
      t.equal(published.status, 201, `${slug} published: ${JSON.stringify(published.body.message ?? '')}`)
    }
    await publish('inventory-sync', {
      config_schema: {
        type: 'object',
        properties: {
          warehouse: { type: 'string', title: 'Warehouse', default: 'main', maxLength: 40 },
          threshold: { type: 'integer', minimum: 0, maximum: 1000, default: 5, description: 'Alert below this stock' },
          mode: { type: 'string', enum: ['fast', 'careful'], default: 'careful' },
          notify: { type: 'boolean', default: true },
          api_key: { type: 'string', minLength: 8, writeOnly: true, description: 'Your warehouse API key' },
        },
        required: ['api_key'],
        additionalProperties: false,
      },
    })
    await publish('analytics-pro', {
      name: 'Analytics Pro',
      tagline: 'Sales dashboards',
      description: 'Reports on what sells.',
      categories: ['analytics'],
      events: [],
      permissions: [{ permission: 'orders:read', purpose: 'Count sales' }],
      config_schema: { type: 'object', properties: {} },
    })
    await publish('hostile-notes', { name: 'Hostile notes', tagline: 'Tries everything', description: 'Notes.', categories: ['productivity'], events: [], permissions: [], config_schema: { type: 'object', properties: {} } })
    await app.database.db.updateTable('apps').set({ description: HOSTILE }).where('slug', '=', 'hostile-notes').execute()
    const key = await storeKey(app, DEFAULT_TENANT)
    const store = bearer(key)

    const { page, errors, statuses } = await launch(t)
    await page.goto(`${app.url}/#marketplace`)
    await page.fill('#key-input', key)
    await page.click('#key-form button[type=submit]')
    await page.locator('#market-results .app-card').nth(2).waitFor()
    t.equal(await page.locator('#market-results .app-card').count(), 3, 'every listed app')
    t.match(await page.locator('#market-chips').textContent(), /All.*Analytics\s*1.*Inventory\s*1.*Productivity\s*1/s, 'category chips with their counts')

    // live search: typed key by key, with a typo
    await page.locator('#market-q').pressSequentially('invntory')
    await page.locator('#market-searched[data-searched="inventory"]').waitFor()
    await page.locator('#market-results .app-card').nth(1).waitFor({ state: 'detached' })
    t.match(await page.locator('#market-searched').textContent(), 'Showing results for “inventory”')
    const card = page.locator('#market-results .app-card[data-app="inventory-sync"]')
    t.match(await card.textContent(), /Inventory sync.*Keeps your warehouse.*No reviews.*0 installs/s, 'the card: name, tagline, rating, installs')
    t.ok(await card.locator('.app-icon').isVisible(), 'and an icon')
    await fs.mkdir(ARTIFACTS, { recursive: true })
    await page.locator('#market-list').screenshot({ path: path.join(ARTIFACTS, 'marketplace.png') })
    // tsquery syntax and quotes are words to search for, not an error
    await page.locator('#market-q').fill(`o'neil & (a | !b):* \\ %_`)
    await page.locator('#market-results .empty', { hasText: 'No app matches.' }).waitFor()
    await page.locator('#market-q').fill('')
    await page.locator('#market-results .app-card').nth(2).waitFor()
    await page.selectOption('#market-sort', 'name')
    await waitFor(async () => (await page.locator('#market-results .app-card').evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.app))).join() === 'analytics-pro,hostile-notes,inventory-sync', { message: 'sorted by name' })
    await page.click('#market-chips [data-category="analytics"]')
    await page.locator('#market-results .app-card[data-app="inventory-sync"]').waitFor({ state: 'detached' })
    t.equal(await page.locator('#market-results .app-card').count(), 1, 'a category chip filters')
    await page.click('#market-chips [data-category=""]')
    await page.locator('#market-results .app-card').nth(2).waitFor()

    // the app's page
    await page.click('#market-results .app-card[data-app="inventory-sync"]')
    const appPage = page.locator('[data-app-page="inventory-sync"]')
    await appPage.waitFor()
    t.equal(await page.locator('#market-app [data-description] h3').textContent(), 'Inventory sync', 'the description, rendered from Markdown')
    t.equal(await page.locator('#market-app [data-description] strong').textContent(), 'every minute')
    t.equal(await page.locator('#market-app [data-description] a').getAttribute('rel'), 'noopener noreferrer nofollow')
    t.match(await page.locator('#market-app .permissions li[data-permission="products:read"]').textContent(), /products:read.*warehouse items/s, 'each permission with its purpose')
    t.match(await page.locator('#market-app').textContent(), /Events it receives.*product\.created.*Versions.*1\.0\.0/s, 'events and versions')

    // the form generated from config_schema
    const field = (name: string) => page.locator(`[data-form="install"] [data-field="config.${name}"]`)
    t.equal(await field('warehouse').locator('input[type=text]').inputValue(), 'main', 'defaults filled in')
    t.equal(await field('threshold').locator('input[type=number]').inputValue(), '5')
    t.equal(await field('mode').locator('select option:checked').textContent(), 'careful', 'an enum is a select')
    t.ok(await field('notify').locator('input[type=checkbox]').isChecked(), 'a boolean is a checkbox')
    t.equal(await field('api_key').locator('input').getAttribute('type'), 'password', 'a writeOnly property is a password field')
    await page.locator('#market-app').screenshot({ path: path.join(ARTIFACTS, 'marketplace-app.png') })
    await field('api_key').locator('input').fill('short')
    await field('threshold').locator('input').fill('12')
    await page.click('[data-form="install"] button[type=submit]')
    await field('api_key').locator('.field-error:not(:empty)').waitFor()
    t.match(await field('api_key').locator('.field-error').textContent(), /fewer than 8 characters/, 'the API’s refusal, beside its field')
    t.equal(await field('threshold').locator('.field-error').textContent(), '', 'and only there')
    t.equal((await app.request('GET', '/api/installations', undefined, store)).body.installations.length, 0, 'nothing installed')
    await field('api_key').locator('input').fill('wh-secret-1')
    await page.click('[data-form="install"] button[type=submit]')

    // the installation's page: app.installed arrives live
    const installed = page.locator('[data-installation-page]')
    await installed.waitFor()
    const installationId = await installed.getAttribute('data-installation-page')
    await page.locator('#app-deliveries li[data-event="app.installed"][data-status="sent"]').waitFor()
    const delivered = appServer.deliveries.find((d) => d.json?.event === 'app.installed')
    t.match(delivered?.json.data, { installation_id: installationId, config: { warehouse: 'main', threshold: 12, mode: 'careful', notify: true, api_key: /^bcs_enc_v1:/ } }, 'the app got the config as the form said it')
    t.match(await page.locator('[data-list="granted"]').textContent(), /products:read/, 'granted permissions')
    t.match(await page.locator('[data-field="version"]').textContent(), 'version 1.0.0')
    t.equal(await page.locator('[data-form="settings"] [data-field="config.api_key"] input').getAttribute('placeholder'), 'set (leave empty to keep it)', 'a stored secret is never shown')

    // settings through the same form
    await page.locator('[data-form="settings"] [data-field="config.warehouse"] input').fill('north')
    await page.click('[data-form="settings"] button[type=submit]')
    await page.locator('#app-deliveries li[data-event="app.config_updated"]').waitFor()
    t.match((await app.request('GET', `/api/installations/${installationId}`, undefined, store)).body, { config: { warehouse: 'north', threshold: 12 }, secret_config_keys: ['api_key'] }, 'saved; the secret kept')

    // pause and resume its deliveries
    await page.click('.head-actions [data-action="pause"]')
    await page.locator('[data-field="delivery-status"]', { hasText: 'paused' }).waitFor()
    await page.click('.head-actions [data-action="resume"]')
    await page.locator('[data-field="delivery-status"]', { hasText: 'active' }).waitFor()

    // a new version asks for more: pending until approved here
    const upgrade = await app.request('PUT', '/api/apps/inventory-sync', {
      ...manifest(appServer.url, { version: '1.1.0', permissions: [{ permission: 'products:read', purpose: 'Match products' }, { permission: 'orders:read', purpose: 'Count what sold' }] }),
      config_schema: (await app.request('GET', '/api/marketplace/inventory-sync', undefined, store)).body.config_schema,
    }, bearer(developer))
    t.equal(upgrade.status, 200, JSON.stringify(upgrade.body.message ?? ''))
    await page.reload()
    await page.locator('[data-pending="1.1.0"] li[data-permission="orders:read"]', { hasText: 'Count what sold' }).waitFor()
    await page.click('[data-action="approve"]')
    await page.locator('[data-list="granted"] li[data-permission="orders:read"]').waitFor()
    t.match(await page.locator('[data-field="version"]').textContent(), 'version 1.1.0', 'approved: the installation moved to the new version')

    // a review
    await page.selectOption('[data-form="review"] select', '4')
    await page.fill('[data-form="review"] textarea', 'Does what it says.')
    await page.click('[data-form="review"] button[type=submit]')
    await waitFor(async () => (await app.request('GET', '/api/marketplace/inventory-sync', undefined, store)).body.review_count === 1, { message: 'the review' })
    await page.locator('#app-deliveries li[data-event="app.permissions_updated"]').waitFor()
    await page.locator('#apps-one').screenshot({ path: path.join(ARTIFACTS, 'marketplace-installed.png') })

    // uninstall, after a confirmation
    await page.click('.head-actions [data-action="uninstall"]')
    await page.click('dialog[data-confirm="Uninstall"] [data-action="cancel"]')
    t.equal((await app.request('GET', '/api/installations', undefined, store)).body.installations.length, 1, 'cancelled: still installed')
    await page.click('.head-actions [data-action="uninstall"]')
    await page.click('dialog[data-confirm="Uninstall"] [data-action="confirm"]')
    await page.locator('#apps-installed .empty').waitFor()
    t.equal((await app.request('GET', '/api/installations', undefined, store)).body.installations.length, 0, 'uninstalled')
    await waitFor(() => appServer.deliveries.some((d) => d.json?.event === 'app.uninstalled'), { message: 'app.uninstalled delivered' })

    // a hostile description: nothing runs, no such element exists; the app installs (no settings)
    await page.goto(`${app.url}/#marketplace/hostile-notes`)
    await page.locator('[data-app-page="hostile-notes"]').waitFor()
    const description = page.locator('#market-app [data-description]')
    t.equal(await description.locator('script, img, iframe, [onerror], [onclick]').count(), 0, 'no script, image, frame or handler')
    t.same(await description.locator('a').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href)), ['https://notes.example/docs'], 'the only link is the https one')
    t.match(await description.textContent(), /<script>window\.__pwned = "heading"<\/script>.*<img src=x onerror=/s, 'the HTML shows as text')
    await page.click('[data-form="install"] button[type=submit]')
    await page.locator('[data-installation-page][data-app="hostile-notes"]').waitFor()
    t.equal(await page.evaluate(() => (window as { __pwned?: unknown }).__pwned), undefined, 'nothing the description carried ran')

    // a private plugin, registered and edited from the dashboard
    await page.click('#views a[data-view="monitor"]')
    await page.click('#plugin-new')
    const form = page.locator('dialog[data-dialog="plugin"] form')
    await form.locator('[data-field="name"] input').fill('Warehouse feed')
    await form.locator('[data-field="slug"] input').fill('warehouse-feed')
    await form.locator('[data-field="webhook_url"] input').fill('ftp://nowhere')
    await form.locator('input[value="product.created"]').check()
    await form.locator('button[type=submit]').click()
    await form.locator('[data-field="webhook_url"] .field-error:not(:empty)').waitFor()
    t.match(await form.locator('[data-field="webhook_url"] .field-error').textContent(), /http or https URL/, 'the URL refused beside its field')
    await form.locator('[data-field="webhook_url"] input').fill(receiver.url)
    await form.locator('button[type=submit]').click()
    t.match(await page.locator('dialog[data-dialog="plugin"] [data-secret]').textContent(), /^whsec_/, 'the signing secret, shown once')
    await page.click('dialog[data-dialog="plugin"] button:text("Done")')
    await page.click('[data-plugin="warehouse-feed"] [data-action="edit"]')
    await form.locator('[data-field="name"] input').fill('Warehouse feed v2')
    await form.locator('button[type=submit]').click()
    await page.locator('[data-plugin="warehouse-feed"]', { hasText: 'Warehouse feed v2' }).waitFor()
    t.match((await app.request('GET', '/api/plugins/warehouse-feed', undefined, store)).body, { name: 'Warehouse feed v2', events: ['product.created'], webhook_url: receiver.url })
    t.ok(await page.locator('[data-plugin="app-hostile-notes"] a[data-action="app"]').isVisible(), 'an app’s plugin links to its page instead of an edit button')

    t.same(errors.filter((e) => !REFUSED.test(e)), [], 'no console error (a CSP violation would be one), no page error, no request elsewhere')
    t.same(statuses.filter((s) => s >= 400), [400, 400], 'the API refused only the two invalid forms, with 400s: no 5xx for anything the dashboard sent')
  },
)
