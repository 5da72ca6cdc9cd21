import type { Machine } from './machine.ts'
import type { BenchOptions } from './options.ts'
import type { ProfileSummary } from './profile.ts'
import { analyticsRatios, analyticsRows, type AnalyticsResults } from './scenarios/analytics.ts'
import type { CpuPerDelivery, DrainResults, DrainRun } from './scenarios/drain.ts'
import type { HistoryResults } from './scenarios/history.ts'
import type { LatencyResults, LatencyRun } from './scenarios/latency.ts'
import type { MemoryResults } from './scenarios/memory.ts'
import type { WriteResults } from './scenarios/write-cost.ts'
import { platformRatios, platformRows, type FairnessResults, type RetentionResults, type WritersResults } from './scenarios/platform.ts'
import type { BurstResults, BurstRun, PluginsResults } from './scenarios/scale.ts'
import { summarise, type Summary } from './stats.ts'

export interface BenchResults {
  machine: Machine
  options: BenchOptions
  startedAt: string
  finishedAt?: string
  drain?: DrainResults
  latency?: LatencyResults
  write?: WriteResults
  history?: HistoryResults
  memory?: MemoryResults
  plugins?: PluginsResults
  burst?: BurstResults
  fairness?: FairnessResults
  retention?: RetentionResults
  writers?: WritersResults
  analytics?: AnalyticsResults
  profiles?: { relay: ProfileSummary; ceiling: ProfileSummary; relayRate: number; ceilingRate: number }
  rows?: Row[]
  ratios?: Ratio[]
}

export interface Row {
  scenario: string
  measure: string
  summary: Summary
  /** decimals shown */
  digits: number
}

export interface Ratio {
  name: string
  /** per round, each pair measured side by side */
  summary: Summary
  target: string
  pass: boolean | null
}

const MB = 2 ** 20
const n = (value: number) => value.toLocaleString('en-US')

export function buildRows(r: BenchResults): Row[] {
  const o = r.options
  const rows: Row[] = []
  const row = (scenario: string, measure: string, values: number[], digits = 0) => {
    if (values.length > 0) rows.push({ scenario, measure, summary: summarise(values), digits })
  }
  if (r.drain) {
    for (const [k, runs] of Object.entries(r.drain.relays)) {
      row(`Drain ${n(o.drain)}, ${k} relay${k === '1' ? '' : 's'}`, 'deliveries/s', runs.map((x) => x.rate))
    }
    for (const [k, runs] of Object.entries(r.drain.candidate ?? {})) {
      row(`Drain ${n(o.drain)}, ${k} candidate relay${k === '1' ? '' : 's'} (${o.candidate})`, 'deliveries/s', runs.map((x) => x.rate))
    }
    row(`Ceiling: bare got loop, no database`, 'requests/s', r.drain.ceiling.map((x) => x.rate))
    row(`Peer: graphile-worker ${r.machine.graphileWorker}`, 'jobs/s', r.drain.peer.map((x) => x.rate))
  }
  if (r.latency) {
    for (const [rate, runs] of Object.entries(r.latency)) {
      const name = `Latency at ${n(Number(rate))} writes/s`
      const committed = runs.flatMap((x) => (x.commitToReceipt ? [x.commitToReceipt] : []))
      row(name, 'commit → receipt p50, ms', committed.map((x) => x.p50), 1)
      row(name, 'commit → receipt p95, ms', committed.map((x) => x.p95), 1)
      row(name, 'commit → receipt p99, ms', committed.map((x) => x.p99), 1)
      row(name, 'write → receipt p50, ms', runs.map((x) => x.endToEnd.p50), 1)
      row(name, 'write → receipt p95, ms', runs.map((x) => x.endToEnd.p95), 1)
      row(name, 'write → receipt p99, ms', runs.map((x) => x.endToEnd.p99), 1)
      row(name, 'API response p50, ms', runs.map((x) => x.api.p50), 1)
      row(name, 'writes/s answered', runs.map((x) => x.achievedRate))
    }
  }
  if (r.write) {
    for (const [plugins, runs] of Object.entries(r.write)) {
      row(`Write cost, ${plugins} plugin${plugins === '1' ? '' : 's'} subscribed`, 'POST /api/products/s', runs.map((x) => x.rate))
    }
  }
  if (r.history) {
    for (const [history, runs] of Object.entries(r.history)) {
      const name = `History ${n(Number(history))} delivered rows`
      row(name, `claim of ${o.concurrency} p50, ms`, runs.map((x) => x.claim.p50), 2)
      row(name, `drain ${n(o.drain)}, deliveries/s`, runs.map((x) => x.rate))
    }
  }
  if (r.plugins) {
    for (const [plugins, runs] of Object.entries(r.plugins)) {
      const name = `${n(Number(plugins))} active plugins, 10 busy`
      row(name, `claim of ${o.concurrency} p50, ms`, runs.map((x) => x.claim.p50), 2)
      row(name, 'idle poll, PostgreSQL execution p50, ms', runs.map((x) => x.idleExecution.p50), 3)
      row(name, `drain ${n(o.pluginsBacklog * 10)}, deliveries/s`, runs.map((x) => x.rate))
    }
  }
  if (r.burst) {
    for (const [size, runs] of Object.entries(r.burst.runs)) {
      const name = `Fresh burst ${n(Number(size))}, never analyzed`
      row(name, 'drain, deliveries/s', runs.map((x) => x.drain.rate))
      row(name, 'first 10 %, deliveries/s', runs.map((x) => x.first10))
      row(name, 'last 10 %, deliveries/s', runs.map((x) => x.last10))
    }
    if (r.burst.held?.length) {
      const name = `Burst ${n(r.burst.heldSize)} held for a paused plugin, resumed into a running relay`
      row(name, 'drain from the resume, deliveries/s', r.burst.held.map((x) => x.drain.rate))
      row(name, 'first 10 %, deliveries/s', r.burst.held.map((x) => x.first10))
      row(name, 'last 10 %, deliveries/s', r.burst.held.map((x) => x.last10))
    }
    row(`Fresh burst ${n(r.burst.peerSize)}: graphile-worker ${r.machine.graphileWorker}`, 'jobs/s', r.burst.peer.map((x) => x.rate))
  }
  if (r.memory) {
    row(`Memory: 1 relay draining ${n(o.drain)}`, 'peak RSS, MB', r.memory.drain.map((b) => b / MB))
    row(`Memory: 1 relay, ${n(o.memoryDrain)} of a ${n(o.memoryBacklog)} backlog`, 'peak RSS, MB', r.memory.backlog.map((b) => b / MB))
  }
  rows.push(...platformRows(r))
  if (r.analytics) rows.push(...analyticsRows(r.analytics))
  return rows
}

/** a[i] / b[i], round by round. */
const paired = (a: number[], b: number[]) => a.slice(0, Math.min(a.length, b.length)).map((x, i) => x / b[i]!)

export function buildRatios(r: BenchResults): Ratio[] {
  const ratios: Ratio[] = []
  const add = (name: string, values: number[], target: string, ok: ((median: number) => boolean) | null) => {
    if (values.length === 0) return
    const summary = summarise(values)
    ratios.push({ name, summary, target, pass: ok ? ok(summary.median) : null })
  }
  if (r.drain) {
    const one = (r.drain.relays[1] ?? []).map((x) => x.rate)
    add('drain, 1 relay / client ceiling', paired(one, r.drain.ceiling.map((x) => x.rate)), '≥ 0.8', (m) => m >= 0.8)
    // why the drain falls short of the ceiling, in CPU: the relay process itself beside the
    // bare loop, then everything the drain runs (with PostgreSQL) beside everything the loop runs
    const relayCpu = (r.drain.relays[1] ?? []).map((x) => x.cpu)
    const loopCpu = r.drain.ceiling.map((x) => x.cpu)
    const total = (c: CpuPerDelivery) => c.worker + c.sink + c.postgres
    add('CPU per delivery, bare loop / relay process', paired(loopCpu.map((c) => c.worker), relayCpu.map((c) => c.worker)), '(the relay beside its HTTP client)', null)
    add('CPU per delivery, bare loop + sink / relay + sink + PostgreSQL', paired(loopCpu.map(total), relayCpu.map(total)), '(all of it, on 2 cores)', null)
    add('drain, 1 relay / graphile-worker', paired(one, r.drain.peer.map((x) => x.rate)), '≥ 1.5', (m) => m >= 1.5)
    for (const [k, runs] of Object.entries(r.drain.candidate ?? {})) {
      const ours = (r.drain.relays[Number(k)] ?? []).map((x) => x.rate)
      add(`drain, ${k} candidate relay${k === '1' ? '' : 's'} / ours`, paired(runs.map((x) => x.rate), ours), '(a proposed change)', null)
    }
    for (const [k, runs] of Object.entries(r.drain.relays)) {
      if (k !== '1') add(`drain, ${k} relays / 1 relay`, paired(runs.map((x) => x.rate), one), '(scaling; 2 cores)', null)
    }
  }
  if (r.latency) {
    const at = (rate: number) => r.latency?.[rate] ?? []
    // commit → receipt where the server keeps commit times, else write → receipt (which includes the write: stricter)
    const measure = (x: LatencyRun) => x.commitToReceipt ?? x.endToEnd
    const label = r.latency[100]?.[0]?.commitToReceipt ? 'commit → receipt' : 'write → receipt'
    add(`latency at 100/s, ${label} p50 (ms)`, at(100).map((x) => measure(x).p50), '≤ 5 ms', (m) => m <= 5)
    add(`latency at 100/s, ${label} p99 (ms)`, at(100).map((x) => measure(x).p99), '≤ 50 ms', (m) => m <= 50)
    add(`latency at 1,000/s, ${label} p99 (ms)`, at(1000).map((x) => measure(x).p99), '≤ 250 ms', (m) => m <= 250)
  }
  if (r.write) {
    const none = (r.write[0] ?? []).map((x) => x.rate)
    for (const [plugins, runs] of Object.entries(r.write)) {
      if (plugins === '0') continue
      const ok = plugins === '10' ? (m: number) => m >= 0.75 : null
      add(`writes, ${plugins} plugin${plugins === '1' ? '' : 's'} / none`, paired(runs.map((x) => x.rate), none), ok ? '≥ 0.75' : '', ok)
    }
  }
  if (r.history) {
    const [small, large] = r.options.history
    const s = r.history[small] ?? []
    const l = r.history[large] ?? []
    add(`history: drain rate, ${n(small)} / ${n(large)} rows`, paired(s.map((x) => x.rate), l.map((x) => x.rate)), '≤ 1.2', (m) => m <= 1.2)
    add(`history: claim p50, ${n(large)} / ${n(small)} rows`, paired(l.map((x) => x.claim.p50), s.map((x) => x.claim.p50)), '≤ 1.2', (m) => m <= 1.2)
  }
  if (r.plugins) {
    const counts = Object.keys(r.plugins).map(Number).sort((a, b) => a - b)
    const fewest = r.plugins[counts[0]!] ?? []
    for (const plugins of counts.slice(1)) {
      const runs = r.plugins[plugins] ?? []
      add(`plugins: claim p50, ${n(plugins)} / ${n(counts[0]!)} plugins`, paired(runs.map((x) => x.claim.p50), fewest.map((x) => x.claim.p50)), '≤ 1.5', (m) => m <= 1.5)
      add(`plugins: drain rate, ${n(plugins)} / ${n(counts[0]!)} plugins`, paired(runs.map((x) => x.rate), fewest.map((x) => x.rate)), '(≈ 1)', null)
    }
    const most = counts.at(-1)!
    add(`plugins: idle poll execution p50 with ${n(most)} plugins (ms)`, (r.plugins[most] ?? []).map((x) => x.idleExecution.p50), '≤ 1 ms', (m) => m <= 1)
  }
  if (r.burst) {
    for (const [size, runs] of Object.entries(r.burst.runs)) {
      // issue 13 sets the target from 100,000: below, a relay's own first second is a large part of the first tenth
      const targeted = Number(size) >= 100_000
      add(`burst ${n(Number(size))}: first 10 % / last 10 %`, runs.map((x) => x.first10 / x.last10), targeted ? '≥ 0.8' : '(≥ 0.8 from 100,000)', targeted ? (m) => m >= 0.8 : null)
    }
    if (r.burst.held?.length) {
      add(`burst ${n(r.burst.heldSize)} resumed into a running relay: first 10 % / last 10 %`, r.burst.held.map((x) => x.first10 / x.last10), '≥ 0.8', (m) => m >= 0.8)
    }
    add(`burst ${n(r.burst.peerSize)}: ours / graphile-worker, both never analyzed`, paired(r.burst.ours.map((x) => x.rate), r.burst.peer.map((x) => x.rate)), '≥ 1.5', (m) => m >= 1.5)
  }
  if (r.memory) {
    add(`memory: RSS, ${n(r.options.memoryBacklog)} backlog / ${n(r.options.drain)}`, paired(r.memory.backlog, r.memory.drain), '≤ 1.5', (m) => m <= 1.5)
  }
  ratios.push(...platformRatios(r))
  if (r.analytics) ratios.push(...analyticsRatios(r.analytics))
  return ratios
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–'

export function markdown(r: BenchResults): string {
  const m = r.machine
  const lines: string[] = []
  lines.push(
    `Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGb} GB, ${m.os}; Node ${m.node}; PostgreSQL ${m.postgres} (embedded); ` +
      `got ${m.got}; graphile-worker ${m.graphileWorker}; commit ${m.commit ?? '?'}; load average ${m.loadStart.toFixed(2)} at start` +
      `${m.loadEnd === undefined ? '' : `, ${m.loadEnd.toFixed(2)} at end`}.`,
  )
  lines.push(
    `Sizes: ${n(r.options.drain)} deliveries per drain, concurrency ${r.options.concurrency} per relay, ${r.options.runs} run${r.options.runs === 1 ? '' : 's'} each ` +
      `(median, range min–max)${r.options.quick ? '; --quick' : ''}.`,
  )
  lines.push('')
  lines.push('| Scenario | Measure | Median | Range | Runs |')
  lines.push('|---|---|---:|---:|---:|')
  for (const row of r.rows ?? []) {
    const { median, min, max, runs } = row.summary
    lines.push(`| ${row.scenario} | ${row.measure} | ${fixed(median, row.digits)} | ${fixed(min, row.digits)}–${fixed(max, row.digits)} | ${runs} |`)
  }
  if (r.drain) {
    const median = (values: number[]) => summarise(values).median
    const contenders: [string, DrainRun[]][] = [
      ...Object.entries(r.drain.relays).map(([k, runs]): [string, DrainRun[]] => [`${k} relay${k === '1' ? '' : 's'}`, runs]),
      ...Object.entries(r.drain.candidate ?? {}).map(([k, runs]): [string, DrainRun[]] => [`${k} candidate relay${k === '1' ? '' : 's'}`, runs]),
      ['ceiling (bare got loop)', r.drain.ceiling],
      [`graphile-worker ${r.machine.graphileWorker}`, r.drain.peer],
    ]
    lines.push('')
    lines.push('| CPU per delivery, ms (median of runs) | Worker process(es) | Sink | PostgreSQL | Total |')
    lines.push('|---|---:|---:|---:|---:|')
    for (const [name, runs] of contenders) {
      if (runs.length === 0) continue
      const w = median(runs.map((x) => x.cpu.worker))
      const k = median(runs.map((x) => x.cpu.sink))
      const p = median(runs.map((x) => x.cpu.postgres))
      lines.push(`| ${name} | ${fixed(w, 3)} | ${fixed(k, 3)} | ${fixed(p, 3)} | ${fixed(median(runs.map((x) => x.cpu.worker + x.cpu.sink + x.cpu.postgres)), 3)} |`)
    }
  }
  if (r.write) {
    const median = (values: number[]) => summarise(values).median
    lines.push('')
    lines.push('| CPU per write, ms (median of runs) | API process | PostgreSQL |')
    lines.push('|---|---:|---:|')
    for (const [plugins, runs] of Object.entries(r.write)) {
      const cpu = runs.flatMap((x) => (x.cpu ? [x.cpu] : []))
      if (cpu.length === 0) continue
      lines.push(`| ${plugins} plugin${plugins === '1' ? '' : 's'} subscribed | ${fixed(median(cpu.map((c) => c.api)), 3)} | ${fixed(median(cpu.map((c) => c.postgres)), 3)} |`)
    }
  }
  const most = Math.max(...r.options.writePlugins)
  for (const [name, last] of [
    ['drain, 1 relay', r.drain?.relays[1]?.at(-1)],
    [`drain, graphile-worker ${r.machine.graphileWorker}`, r.drain?.peer.at(-1)],
    [`writes with ${most} plugins subscribed (per write)`, r.write?.[most]?.at(-1) && { count: r.write[most]!.at(-1)!.rate * r.options.writeSeconds, statements: r.write[most]!.at(-1)!.statements }],
  ] as const) {
    if (!last?.statements?.length) continue
    lines.push('')
    lines.push(`| PostgreSQL time, ${name} (pg_stat_statements, one run) | Calls | Rows | Execution, µs per item | Planning, µs per item |`)
    lines.push('|---|---:|---:|---:|---:|')
    for (const st of last.statements) {
      if (st.totalMs + st.planMs < 1) continue
      const query = st.query.length > 90 ? `${st.query.slice(0, 87)}…` : st.query
      const perDelivery = (ms: number) => fixed((ms * 1000) / last.count, 1)
      lines.push(`| \`${query.replaceAll('|', '\\|')}\` | ${n(st.calls)} | ${n(st.rows)} | ${perDelivery(st.totalMs)} | ${perDelivery(st.planMs)} |`)
    }
  }
  if (r.burst) {
    const timeline = (label: string, run: BurstRun) => {
      const rates = run.timeline.map((count, i) => Math.round(((count - (run.timeline[i - 1] ?? 0)) * 1000) / run.timelineStepMs))
      lines.push('')
      lines.push(`${label} (deliveries/s, every ${run.timelineStepMs} ms): ${rates.join(' ')}`)
    }
    for (const [size, runs] of Object.entries(r.burst.runs)) {
      const last = runs.at(-1)
      if (last) timeline(`Fresh burst ${n(Number(size))}, drain timeline of the last run`, last)
    }
    const held = r.burst.held?.at(-1)
    if (held) timeline(`Burst ${n(held.size)} resumed into a running relay, timeline of the last run from the resume`, held)
  }
  if (r.ratios?.length) {
    lines.push('')
    lines.push('| Ratio (side by side, per round) | Median | Range | Target | |')
    lines.push('|---|---:|---:|---|---|')
    for (const ratio of r.ratios) {
      const digits = ratio.name.includes('(ms)') ? 1 : 2
      const { median, min, max } = ratio.summary
      const verdict = ratio.pass === null ? '' : ratio.pass ? 'met' : '**not met**'
      lines.push(`| ${ratio.name} | ${fixed(median, digits)} | ${fixed(min, digits)}–${fixed(max, digits)} | ${ratio.target} | ${verdict} |`)
    }
  }
  if (r.profiles) {
    for (const [name, p, rate] of [
      ['relay (1 relay draining)', r.profiles.relay, r.profiles.relayRate],
      ['ceiling (bare got loop)', r.profiles.ceiling, r.profiles.ceilingRate],
    ] as const) {
      lines.push('')
      lines.push(
        `CPU profile, ${name}: ${fixed(p.busyMs / 1000, 1)} s busy of ${fixed(p.wallMs / 1000, 1)} s (${fixed((100 * p.busyMs) / p.wallMs, 0)} % of a core) ` +
          `at ${fixed(rate, 0)}/s under the profiler.`,
      )
      lines.push('')
      lines.push('| Group | Self time, % of busy |')
      lines.push('|---|---:|')
      for (const g of p.groups.slice(0, 12)) lines.push(`| ${g.group} | ${fixed(100 * g.share, 1)} |`)
      lines.push('')
      lines.push('| Function (self time) | Group | % of busy |')
      lines.push('|---|---|---:|')
      for (const f of p.top.slice(0, 15)) lines.push(`| \`${f.fn.replaceAll('|', '\\|')}\` | ${f.group} | ${fixed(100 * f.share, 1)} |`)
    }
  }
  return lines.join('\n')
}
