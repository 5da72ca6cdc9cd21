import uPlot from 'uplot'
import type { PluginAnalytics } from '../../analytics/analytics.queries.ts'
import type { SloState } from '../../analytics/slo.ts'
import { api } from './api.ts'
import { byId, h, replace } from './dom.ts'

/**
 * The analytics view: the store's plugins over a range (GET /api/analytics/overview)
 * and one plugin's charts (GET /api/analytics/plugins/:slug), drawn with uPlot.
 */

type RangeKey = '1h' | '24h' | '7d' | '30d' | '90d'
const HOUR = 3_600_000
const RANGES: Record<RangeKey, { ms: number; granularity: 'minute' | 'hour' | 'day' }> = {
  '1h': { ms: HOUR, granularity: 'minute' },
  '24h': { ms: 24 * HOUR, granularity: 'hour' },
  '7d': { ms: 7 * 24 * HOUR, granularity: 'hour' },
  '30d': { ms: 30 * 24 * HOUR, granularity: 'day' },
  '90d': { ms: 90 * 24 * HOUR, granularity: 'day' },
}
const COLORS = { sent: '#16a34a', retried: '#f59e0b', failed: '#dc2626', p50: '#4f46e5', p95: '#0891b2', p99: '#db2777' }

interface OverviewPlugin {
  plugin: string
  name: string
  status: string
  kind: 'plugin' | 'alert'
  totals: PluginAnalytics['totals']
  backlog: { due: number; oldest_due_age_ms: number | null }
  slo: SloState | null
}

const view = { range: '24h' as RangeKey, plugin: '' }
const charts: uPlot[] = []

const percent = (x: number | null) => {
  if (x === null) return '—'
  const p = Math.round(x * 1000) / 10
  return `${Number.isInteger(p) ? p : p.toFixed(1)}%`
}
const ms = (x: number | null) => (x === null ? '—' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x} ms`)

function rangeQuery(): string {
  const r = RANGES[view.range]
  const from = new Date(Date.now() - r.ms).toISOString()
  return `from=${encodeURIComponent(from)}&granularity=${r.granularity}`
}

function chart(target: HTMLElement, title: string, data: uPlot.AlignedData, series: uPlot.Series[], yLabel: string): void {
  const width = Math.max(300, target.clientWidth || 600)
  charts.push(
    new uPlot(
      {
        title,
        width,
        height: 220,
        series: [{}, ...series],
        axes: [{}, { label: yLabel, size: 60 }],
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      target,
    ),
  )
}

function sloBlock(slo: SloState | null): HTMLElement {
  if (!slo) return h('p', { class: 'muted' }, 'No SLO set (PATCH /api/plugins/:slug with {"slo": {"success_rate": 0.99}}).')
  const left = Math.max(0, Math.min(1, slo.budget_remaining))
  return h(
    'div',
    { class: 'slo', 'data-slo-state': slo.state },
    h('p', {}, `Objective ${percent(slo.objective.success_rate)} success`, slo.objective.latency_p95_ms ? `, p95 ≤ ${slo.objective.latency_p95_ms} ms` : '', ` · state: `, h('strong', {}, slo.state)),
    h('div', { class: 'budget' }, h('div', { class: 'budget-left', 'data-left': left.toFixed(2) })),
    h('p', { class: 'muted' }, `Error budget left over 30 days: ${percent(slo.budget_remaining)} · burn 1 h ${slo.burn_rates['1h']}× · 6 h ${slo.burn_rates['6h']}×`),
  )
}

async function renderPlugin(slug: string): Promise<void> {
  const data = await api<PluginAnalytics & { slo: SloState | null }>('GET', `/api/analytics/plugins/${encodeURIComponent(slug)}?${rangeQuery()}`)
  const at = data.series.map((p) => Date.parse(p.at) / 1000)
  // stacked: each outcome drawn on top of the ones below it
  const sent = data.series.map((p) => p.sent)
  const retried = data.series.map((p, i) => sent[i]! + p.retried)
  const failed = data.series.map((p, i) => retried[i]! + p.failed)
  const body = byId('analytics-body')
  const volume = h('div', { class: 'chart', 'data-chart': 'volume' })
  const latency = h('div', { class: 'chart', 'data-chart': 'latency' })
  const t = data.totals
  const causes = Object.entries(t.failures).filter(([, n]) => n > 0)
  replace(
    body,
    h(
      'div',
      { class: 'analytics-totals', 'data-analytics-plugin': slug },
      h('span', {}, h('strong', {}, String(t.attempts)), ' attempts'),
      h('span', {}, h('strong', {}, percent(t.success_rate)), ' success'),
      h('span', {}, 'p50 / p95 / p99 ', h('strong', {}, `${ms(t.p50_ms)} / ${ms(t.p95_ms)} / ${ms(t.p99_ms)}`)),
      h('span', {}, 'commit → delivered p95 ', h('strong', {}, ms(t.e2e_p95_ms))),
    ),
    volume,
    latency,
    h(
      'div',
      { class: 'analytics-grid' },
      h(
        'div',
        {},
        h('h3', {}, 'Failures by cause'),
        causes.length === 0
          ? h('p', { class: 'muted' }, 'No failure in this range.')
          : h('table', {}, h('tbody', {}, ...causes.map(([cause, n]) => h('tr', { 'data-cause': cause }, h('td', {}, cause), h('td', { class: 'num' }, n))))),
      ),
      h(
        'div',
        {},
        h('h3', {}, 'Volume by event type'),
        data.by_event_type.length === 0
          ? h('p', { class: 'muted' }, 'Nothing in this range.')
          : h(
              'table',
              {},
              h('tbody', {}, ...data.by_event_type.map((e) => h('tr', { 'data-event': e.event }, h('td', {}, e.event), h('td', { class: 'num' }, e.attempts), h('td', { class: 'num' }, percent(e.success_rate))))),
            ),
      ),
      h('div', {}, h('h3', {}, 'SLO'), sloBlock(data.slo)),
    ),
  )
  for (const c of charts.splice(0)) c.destroy()
  chart(volume, 'Attempts by outcome', [at, failed, retried, sent], [
    { label: 'failed', stroke: COLORS.failed, fill: `${COLORS.failed}cc`, value: (_u, _v, _s, i) => String(i === null ? '' : data.series[i]!.failed) },
    { label: 'retried', stroke: COLORS.retried, fill: `${COLORS.retried}cc`, value: (_u, _v, _s, i) => String(i === null ? '' : data.series[i]!.retried) },
    { label: 'sent', stroke: COLORS.sent, fill: `${COLORS.sent}cc` },
  ], 'attempts')
  const nulls = (k: 'p50_ms' | 'p95_ms' | 'p99_ms') => data.series.map((p) => p[k])
  chart(latency, 'Attempt duration', [at, nulls('p50_ms'), nulls('p95_ms'), nulls('p99_ms')], [
    { label: 'p50', stroke: COLORS.p50, spanGaps: true },
    { label: 'p95', stroke: COLORS.p95, spanGaps: true },
    { label: 'p99', stroke: COLORS.p99, spanGaps: true },
  ], 'ms')
  for (const bar of body.querySelectorAll<HTMLElement>('.budget-left')) bar.style.width = `${Number(bar.dataset.left) * 100}%`
}

async function renderOverview(): Promise<void> {
  const { plugins } = await api<{ plugins: OverviewPlugin[] }>('GET', `/api/analytics/overview?from=${encodeURIComponent(new Date(Date.now() - RANGES[view.range].ms).toISOString())}`)
  for (const c of charts.splice(0)) c.destroy()
  const select = byId<HTMLSelectElement>('analytics-plugin')
  replace(select, h('option', { value: '' }, 'All plugins'), ...plugins.map((p) => h('option', { value: p.plugin, selected: p.plugin === view.plugin }, p.plugin)))
  replace(
    byId('analytics-body'),
    h(
      'table',
      { class: 'overview' },
      h('thead', {}, h('tr', {}, ...['Plugin', 'Status', 'Attempts', 'Success', 'p95', 'Due now', 'Oldest due', 'SLO'].map((c, i) => h('th', { class: i >= 2 ? 'num' : undefined }, c)))),
      h(
        'tbody',
        {},
        ...plugins.map((p) =>
          h(
            'tr',
            { 'data-overview': p.plugin, onclick: () => select.value !== p.plugin && ((select.value = p.plugin), void refresh()) },
            h('td', { class: 'name' }, p.plugin, p.kind === 'alert' ? h('span', { class: 'muted' }, ' (alerts)') : null),
            h('td', {}, p.status),
            h('td', { class: 'num' }, p.totals.attempts),
            h('td', { class: 'num' }, percent(p.totals.success_rate)),
            h('td', { class: 'num' }, ms(p.totals.p95_ms)),
            h('td', { class: 'num' }, p.backlog.due),
            h('td', { class: 'num' }, ms(p.backlog.oldest_due_age_ms)),
            h('td', { class: 'num' }, p.slo ? `${p.slo.state} · ${percent(p.slo.budget_remaining)} left` : '—'),
          ),
        ),
      ),
    ),
  )
}

async function refresh(): Promise<void> {
  view.plugin = byId<HTMLSelectElement>('analytics-plugin').value
  for (const button of document.querySelectorAll<HTMLButtonElement>('#analytics-ranges button')) {
    button.classList.toggle('active', button.dataset.range === view.range)
  }
  if (view.plugin) await renderPlugin(view.plugin)
  else await renderOverview()
}

/** Wires the controls; `onError` reports a failed call the way the rest of the page does. */
export function startAnalytics(onError: (error: unknown) => void): () => void {
  const reload = () => void refresh().catch(onError)
  byId('analytics-plugin').addEventListener('change', reload)
  replace(
    byId('analytics-ranges'),
    ...(Object.keys(RANGES) as RangeKey[]).map((r) =>
      h('button', { type: 'button', 'data-range': r, onclick: () => ((view.range = r), reload()) }, r),
    ),
  )
  reload()
  return reload
}
