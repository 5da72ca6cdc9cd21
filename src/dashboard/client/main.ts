import { allPlugins, api, ApiError, apiKey, type Delivery, type DeliveryChange, type DeliveryDetail, type MinuteCount, type Plugin, type PluginStats } from './api.ts'
import { startAnalytics } from './analytics.ts'
import { minuteChart } from './chart.ts'
import { ago, byId, h, replace, time } from './dom.ts'
import { openPluginDialog } from './plugin-form.ts'
import { follow, type StreamState } from './stream.ts'
import { startViews } from './views.ts'

/** Rows kept in the live feed; older ones scroll away. */
const FEED_SIZE = 60
/** Numbers refresh this often, and soon after live changes (coalesced). */
const STATS_EVERY_MS = 15_000
const STATS_AFTER_CHANGE_MS = 1000

interface FeedItem {
  key: string
  /** arrival order: among items of the same moment, the later one shows first */
  seq: number
  deliveryId: number
  label: string
  plugin: string
  event: string
  at: string
  detail: string
}

const state = {
  plugins: [] as Plugin[],
  stats: new Map<string, PluginStats>(),
  series: [] as MinuteCount[],
  feed: [] as FeedItem[],
  selected: null as number | null,
}

const authRequired = document.body.dataset.auth === 'required'
const defaultTenant = document.body.dataset.defaultTenant ?? '<uuid>'
/** set while the API wants a key this browser has not given: the panels say so instead of "Loading…" */
let needsKey = false
let seq = 0
let stream: ReturnType<typeof follow> | undefined
let statsTimer: number | undefined
let started = false

// ---------------------------------------------------------------- feedback

let toastTimer: number | undefined
function toast(message: string, kind: 'ok' | 'error' = 'ok'): void {
  const element = byId('toast')
  element.textContent = message
  element.className = `toast show ${kind}`
  window.clearTimeout(toastTimer)
  toastTimer = window.setTimeout(() => (element.className = 'toast'), 4000)
}

function failed(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) {
    askForKey('The API refused the key; enter a valid one.')
    return
  }
  toast(error instanceof Error ? error.message : String(error), 'error')
}

const feedback = { failed, toast }

function setStreamState(value: StreamState): void {
  const element = byId('live')
  const text: Record<StreamState, string> = { connecting: 'connecting…', live: 'live', down: 'reconnecting…', unauthorized: 'no access' }
  element.textContent = text[value]
  element.className = `live ${value}`
  if (value === 'unauthorized') askForKey('The API refused the key; enter a valid one.')
}

// ---------------------------------------------------------------- API key

const NEEDS_KEY = 'Needs an API key: paste one into the key field above.'

function askForKey(message: string): void {
  needsKey = true
  const banner = byId('auth-banner')
  banner.textContent = message
  banner.hidden = false
  // a key the server refused although AUTH is off (another store's, revoked): the field is how to replace it
  byId('key-form').hidden = false
  byId<HTMLInputElement>('key-input').focus()
  renderPlugins()
  renderFeed()
}

function onKeySubmit(event: Event): void {
  event.preventDefault()
  const input = byId<HTMLInputElement>('key-input')
  apiKey.set(input.value.trim())
  needsKey = false
  byId('auth-banner').hidden = true
  input.value = ''
  input.placeholder = apiKey.get() ? 'API key saved' : 'API key'
  if (started) {
    stream?.restart()
    void loadAll()
    // the marketplace or an app's page, drawn again with the new key
    window.dispatchEvent(new HashChangeEvent('hashchange'))
  } else {
    start()
  }
}

// ---------------------------------------------------------------- plugins

function percent(rate: number | null): string {
  return rate === null ? '—' : `${(rate * 100).toFixed(rate === 1 || rate === 0 ? 0 : 1)}%`
}

function renderPlugins(): void {
  const body = byId('plugins')
  if (needsKey && state.plugins.length === 0) {
    replace(body, h('tr', {}, h('td', { colspan: 9, class: 'empty needs-key' }, NEEDS_KEY)))
    return
  }
  if (state.plugins.length === 0) {
    replace(body, h('tr', {}, h('td', { colspan: 9, class: 'empty' }, 'No plugins yet: register one (the button above, or POST /api/plugins), or install an app from the Marketplace.')))
    return
  }
  replace(
    body,
    ...state.plugins.map((plugin) => {
      const stats = state.stats.get(plugin.slug)
      const paused = plugin.status !== 'active'
      const resume = () => (plugin.status === 'disabled' ? enable(plugin.slug) : setStatus(plugin.slug, 'active'))
      return h(
        'tr',
        { 'data-plugin': plugin.slug },
        h('td', {}, h('div', { class: 'name' }, plugin.name), h('div', { class: 'muted mono' }, plugin.slug)),
        h('td', {}, h('span', { class: `badge ${plugin.status}` }, plugin.status)),
        h('td', { class: 'events' }, ...plugin.events.map((e) => h('span', { class: 'chip' }, e))),
        h('td', { class: 'num' }, stats?.last_hour ?? 0),
        h('td', { class: 'num' }, stats?.last_day ?? 0),
        h('td', { class: 'num' }, percent(stats?.success_rate ?? null)),
        h('td', { class: 'num' }, stats?.p50_ms == null ? '—' : `${stats.p50_ms} / ${stats.p95_ms} ms`),
        h(
          'td',
          { class: stats?.last_error ? 'error-cell' : 'error-cell none', title: stats?.last_error ?? '' },
          stats?.last_error ? h('span', {}, h('span', { class: 'muted' }, `${ago(stats.last_error_at)} · `), stats.last_error) : '—',
        ),
        h(
          'td',
          { class: 'actions' },
          h('button', { type: 'button', 'data-action': 'test', onclick: () => void sendTest(plugin.slug) }, 'Send test'),
          // an app's subscription is the app's to change: its page manages it
          plugin.app_installation_id
            ? h('a', { class: 'button', href: `#apps/${plugin.app_installation_id}`, 'data-action': 'app' }, 'App')
            : h('button', { type: 'button', 'data-action': 'edit', onclick: () => void openPluginDialog(feedback, () => void loadPlugins().catch(failed), plugin) }, 'Edit'),
          h(
            'button',
            { type: 'button', 'data-action': paused ? 'resume' : 'pause', onclick: () => void (paused ? resume() : setStatus(plugin.slug, 'paused')) },
            plugin.status === 'disabled' ? 'Enable' : paused ? 'Resume' : 'Pause',
          ),
        ),
      )
    }),
  )
}

async function sendTest(slug: string): Promise<void> {
  try {
    const result = await api<{ success: boolean; status_code: number | null; duration_ms: number; error: string | null }>(
      'POST',
      `/api/plugins/${encodeURIComponent(slug)}/test`,
    )
    if (result.success) toast(`✓ ${slug} answered ${result.status_code} in ${result.duration_ms} ms`)
    else toast(`✗ ${slug}: ${result.error ?? `HTTP ${result.status_code}`}`, 'error')
  } catch (error) {
    failed(error)
  }
}

async function setStatus(slug: string, status: 'active' | 'paused'): Promise<void> {
  try {
    await api('PATCH', `/api/plugins/${encodeURIComponent(slug)}`, { status })
    toast(status === 'paused' ? `${slug} paused: deliveries wait` : `${slug} resumed`)
    await loadPlugins()
  } catch (error) {
    failed(error)
  }
}

/** A plugin disabled for failing (or a 410) comes back through its own route, which keeps its deliveries. */
async function enable(slug: string): Promise<void> {
  try {
    await api('POST', `/api/plugins/${encodeURIComponent(slug)}/enable`)
    toast(`${slug} enabled`)
    await loadPlugins()
  } catch (error) {
    failed(error)
  }
}

// ---------------------------------------------------------------- feed

function feedFilter(): { plugin: string; event: string } {
  return { plugin: byId<HTMLSelectElement>('feed-plugin').value, event: byId<HTMLSelectElement>('feed-event').value }
}

function streamUrl(): string {
  const { plugin, event } = feedFilter()
  const query = new URLSearchParams()
  if (plugin) query.set('plugin', plugin)
  if (event) query.set('event', event)
  const text = query.toString()
  return `/api/plugins/events/stream${text ? `?${text}` : ''}`
}

function outcomeOf(code: number | null, error: string | null, duration?: number): string {
  if (error) return error
  if (code !== null) return `HTTP ${code}${duration !== undefined ? ` · ${duration} ms` : ''}`
  return ''
}

function addChange(change: DeliveryChange): void {
  const key = `${change.delivery_id}:${change.change}:${change.attempt?.number ?? change.at}`
  if (state.feed.some((item) => item.key === key)) return
  state.feed.unshift({
    key,
    seq: ++seq,
    deliveryId: change.delivery_id,
    label: change.change,
    plugin: change.plugin,
    event: change.event,
    at: change.at,
    detail: change.attempt ? outcomeOf(change.attempt.status_code, change.attempt.error, change.attempt.duration_ms) : '',
  })
  sortFeed()
  state.feed.length = Math.min(state.feed.length, FEED_SIZE)
  renderFeed()
}

/** Newest first, by the moment of the change (not by when it reached this page), whatever its source. */
function sortFeed(): void {
  state.feed.sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.seq - a.seq)
}

function renderFeed(): void {
  const list = byId('feed')
  if (state.feed.length === 0) {
    replace(list, h('li', { class: needsKey ? 'empty needs-key' : 'empty' }, needsKey ? NEEDS_KEY : 'Waiting for deliveries… create a product or send a test.'))
    return
  }
  replace(
    list,
    ...state.feed.map((item) =>
      h(
        'li',
        {
          'data-delivery': item.deliveryId,
          'data-change': item.label,
          'data-at': item.at,
          class: state.selected === item.deliveryId ? 'selected' : '',
          tabindex: 0,
          onclick: () => void select(item.deliveryId),
          onkeydown: (event) => {
            if ((event as KeyboardEvent).key === 'Enter') void select(item.deliveryId)
          },
        },
        h('span', { class: 'muted mono' }, time(item.at)),
        h('span', { class: `badge ${item.label}` }, item.label),
        h('span', { class: 'mono' }, `#${item.deliveryId}`),
        h('span', {}, item.plugin),
        h('span', { class: 'chip' }, item.event),
        h('span', { class: 'muted detail' }, item.detail),
      ),
    ),
  )
}

async function loadRecent(): Promise<void> {
  const { plugin, event } = feedFilter()
  const query = new URLSearchParams({ limit: '25' })
  if (plugin) query.set('plugin', plugin)
  if (event) query.set('event', event)
  const { events } = await api<{ events: Delivery[] }>('GET', `/api/plugins/events?${query}`)
  const recent: FeedItem[] = events.map((d) => ({
    key: `${d.id}:${d.status}:recent`,
    seq: 0,
    deliveryId: d.id,
    label: d.status,
    plugin: d.plugin,
    event: d.event,
    at: d.sent_at ?? d.created_at,
    detail: outcomeOf(d.last_status_code, d.last_error),
  }))
  // changes that streamed in while this list was loading stay on top; the list adds what came before
  const live = state.feed.filter((item) => !item.key.endsWith(':recent'))
  const shown = new Set(live.map((item) => item.deliveryId))
  state.feed = [...live, ...recent.filter((item) => !shown.has(item.deliveryId))]
  sortFeed()
  state.feed.length = Math.min(state.feed.length, FEED_SIZE)
  renderFeed()
}

function onFilterChange(): void {
  state.feed = []
  stream?.restart()
  void loadRecent().catch(failed)
}

// ---------------------------------------------------------------- detail

async function select(id: number): Promise<void> {
  state.selected = id
  renderFeed()
  await loadDetail()
}

async function loadDetail(): Promise<void> {
  const id = state.selected
  if (id === null) return
  try {
    const delivery = await api<DeliveryDetail>('GET', `/api/plugins/events/${id}`)
    if (state.selected === id) renderDetail(delivery)
  } catch (error) {
    failed(error)
  }
}

function renderDetail(d: DeliveryDetail): void {
  const panel = byId('detail')
  panel.dataset.delivery = String(d.id)
  panel.dataset.status = d.status
  const field = (label: string, value: string | number | null) => h('div', { class: 'field' }, h('dt', {}, label), h('dd', {}, value ?? '—'))
  replace(
    panel,
    h(
      'div',
      { class: 'detail-head' },
      h('h3', {}, `Delivery #${d.id}`),
      h('span', { class: `badge ${d.status}`, 'data-field': 'status' }, d.status),
      h(
        'button',
        { type: 'button', 'data-action': 'retry', disabled: d.status === 'pending', onclick: () => void retry(d.id), title: 'Send it again now, as a further attempt' },
        'Retry',
      ),
    ),
    h(
      'dl',
      { class: 'fields' },
      field('Plugin', d.plugin),
      field('Event', d.event),
      field('Webhook id', d.webhook_id),
      field('Attempts', d.attempts),
      field('Created', time(d.created_at)),
      field('Sent', d.sent_at ? time(d.sent_at) : null),
      field('Next attempt', d.next_attempt_at ? time(d.next_attempt_at) : null),
      field('Last error', d.last_error),
    ),
    h('h4', {}, 'Attempts'),
    d.attempt_log.length === 0
      ? h('p', { class: 'muted' }, 'No attempt yet.')
      : h(
          'table',
          { class: 'attempts' },
          h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'At'), h('th', {}, 'Status'), h('th', {}, 'Duration'), h('th', {}, 'Error'))),
          h(
            'tbody',
            {},
            ...d.attempt_log.map((a) =>
              h(
                'tr',
                { 'data-attempt': a.attempt },
                h('td', {}, a.attempt),
                h('td', { class: 'mono' }, time(a.created_at)),
                h('td', {}, a.status_code ?? '—'),
                h('td', { class: 'num' }, `${a.duration_ms} ms`),
                h('td', { class: 'error-cell', title: a.error ?? '' }, a.error ?? ''),
              ),
            ),
          ),
        ),
    h('h4', {}, 'Headers sent'),
    h(
      'table',
      { class: 'headers' },
      h(
        'tbody',
        {},
        ...Object.entries(d.headers_sent).map(([name, value]) => h('tr', {}, h('th', { class: 'mono' }, name), h('td', { class: 'mono' }, value))),
        h('tr', {}, h('th', { class: 'mono' }, 'webhook-timestamp'), h('td', { class: 'muted' }, 'the time of each attempt')),
        h('tr', {}, h('th', { class: 'mono' }, 'webhook-signature'), h('td', { class: 'muted' }, 'v1,… computed per attempt with the plugin’s secret')),
      ),
    ),
    h('h4', {}, 'Payload'),
    h('pre', { class: 'payload' }, JSON.stringify(d.payload, null, 2)),
  )
}

async function retry(id: number): Promise<void> {
  try {
    await api('POST', `/api/plugins/events/${id}/retry`)
    toast(`Delivery #${id} queued for redelivery`)
    await loadDetail()
  } catch (error) {
    failed(error)
  }
}

// ---------------------------------------------------------------- numbers

async function loadPlugins(): Promise<void> {
  const [plugins, stats] = await Promise.all([
    allPlugins(),
    api<{ plugins: PluginStats[]; per_minute: MinuteCount[] }>('GET', '/api/plugins/events/stats'),
  ])
  state.plugins = plugins
  state.stats = new Map(stats.plugins.map((s) => [s.plugin, s]))
  state.series = stats.per_minute
  renderPlugins()
  replace(byId('chart'), minuteChart(state.series))
  const select = byId<HTMLSelectElement>('feed-plugin')
  const chosen = select.value
  replace(select, h('option', { value: '' }, 'All plugins'), ...plugins.map((p) => h('option', { value: p.slug, selected: p.slug === chosen }, p.slug)))
}

function refreshSoon(): void {
  window.clearTimeout(statsTimer)
  statsTimer = window.setTimeout(() => void loadPlugins().catch(failed), STATS_AFTER_CHANGE_MS)
}

async function loadEventTypes(): Promise<void> {
  const { event_types } = await api<{ event_types: { name: string; subscribable: boolean }[] }>('GET', '/api/event-types')
  const select = byId<HTMLSelectElement>('feed-event')
  replace(select, h('option', { value: '' }, 'All events'), ...event_types.map((e) => h('option', { value: e.name }, e.name)))
}

async function loadAll(): Promise<void> {
  try {
    await Promise.all([loadPlugins(), loadEventTypes(), loadRecent()])
  } catch (error) {
    failed(error)
  }
}

// ---------------------------------------------------------------- start

function start(): void {
  started = true
  void loadAll()
  stream = follow({
    url: streamUrl,
    onState: setStreamState,
    onEvent(name, data) {
      if (name === 'reset') {
        void loadRecent().catch(failed)
        return
      }
      if (name === 'ready') return
      const change = data as DeliveryChange
      addChange(change)
      if (change.delivery_id === state.selected) void loadDetail()
      refreshSoon()
    },
  })
  const refreshAnalytics = startAnalytics(failed)
  startViews(feedback)
  window.setInterval(() => {
    void loadPlugins().catch(failed)
    refreshAnalytics()
  }, STATS_EVERY_MS)
}

byId('key-form').addEventListener('submit', onKeySubmit)
byId('plugin-new').addEventListener('click', () => void openPluginDialog(feedback, () => void loadPlugins().catch(failed)))
byId('feed-plugin').addEventListener('change', onFilterChange)
byId('feed-event').addEventListener('change', onFilterChange)
byId<HTMLInputElement>('key-input').placeholder = apiKey.get() ? 'API key saved' : 'API key'
renderFeed()
if (authRequired && !apiKey.get()) {
  askForKey(`This server requires an API key: create one with bin/admin keys create --tenant ${defaultTenant} (the default store) and paste it here.`)
} else {
  start()
}
