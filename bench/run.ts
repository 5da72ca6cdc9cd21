/**
 * `npm run bench` (`-- --quick` for a tiny run): the benchmark of issue 7. Starts
 * its own embedded PostgreSQL and a sink process, runs the scenarios side by side
 * (each repeated, median and range), prints a table and writes JSON and Markdown
 * to bench/results/. See bench/options.ts for the sizes and their flags.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { loadSecretCipher } from '../src/secrets/secrets-key.ts'
import type { BenchContext } from './context.ts'
import { postmasterPid } from './cpu.ts'
import { describeMachine } from './machine.ts'
import { benchOptions, type ScenarioName } from './options.ts'
import { startBenchPostgres } from './postgres.ts'
import { readProfile } from './profile.ts'
import { buildRatios, buildRows, markdown, type BenchResults } from './report.ts'
import { analyticsScenario } from './scenarios/analytics.ts'
import { ceiling, drainScenario, drainWithRelays } from './scenarios/drain.ts'
import { historyScenario } from './scenarios/history.ts'
import { latencyScenario } from './scenarios/latency.ts'
import { memoryScenario } from './scenarios/memory.ts'
import { fairnessScenario, retentionScenario, writersScenario } from './scenarios/platform.ts'
import { burstScenario, pluginsScenario } from './scenarios/scale.ts'
import { writeScenario } from './scenarios/write-cost.ts'
import { startSink } from './sink-control.ts'
import { monoMs } from './stats.ts'
import { drainTemplate, profileDir } from './templates.ts'

const options = benchOptions()
const started = monoMs()
const log = (message: string) => process.stderr.write(`[bench ${((monoMs() - started) / 1000).toFixed(0).padStart(4)} s] ${message}\n`)
const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-bench-'))
await fs.mkdir(options.out, { recursive: true })

const pg = await startBenchPostgres(options.pgUrl)
const sink = await startSink()
// every process of the run signs with this key, as every relay of one deployment does
const secretsKey = randomBytes(32).toString('base64')
const ctx: BenchContext = {
  options,
  pg,
  sink,
  cipher: await loadSecretCipher({ SECRETS_KEY: secretsKey, DATA_DIR: workDir, NODE_ENV: 'development' }),
  env: { SECRETS_KEY: secretsKey, DATA_DIR: workDir, RELAY_CONCURRENCY: String(options.concurrency), ...options.relayEnv },
  bodyFile: path.join(workDir, 'body.json'),
  workDir,
  postmaster: await postmasterPid(pg.url('postgres')),
  log,
  templates: new Map(),
}
const results: BenchResults = { machine: describeMachine(pg.version), options, startedAt: new Date().toISOString() }
const wants = (name: ScenarioName) => options.only.includes(name)

let failed = false
try {
  log(`PostgreSQL ${pg.version}, sink at ${sink.url}; scenarios: ${options.only.join(', ')}${options.quick ? ' (quick)' : ''}`)
  if (wants('drain')) results.drain = await drainScenario(ctx)
  if (wants('memory')) results.memory = await memoryScenario(ctx, results.drain?.relays[1])
  if (wants('history')) results.history = await historyScenario(ctx)
  if (wants('latency')) results.latency = await latencyScenario(ctx)
  if (wants('write')) results.write = await writeScenario(ctx)
  if (wants('plugins')) results.plugins = await pluginsScenario(ctx)
  if (wants('burst')) results.burst = await burstScenario(ctx)
  if (wants('fairness-at-scale')) results.fairness = await fairnessScenario(ctx)
  if (wants('retention')) results.retention = await retentionScenario(ctx)
  if (wants('writers')) results.writers = await writersScenario(ctx)
  if (wants('analytics')) results.analytics = await analyticsScenario(ctx)
  if (options.profile) {
    // after the measured runs, so the profiler's own cost touches none of them
    const relayDir = await profileDir(ctx, 'relay')
    const relayRun = await drainWithRelays(ctx, await drainTemplate(ctx), 1, { count: options.drain, profileDir: relayDir })
    const ceilingDir = await profileDir(ctx, 'ceiling')
    const ceilingRun = await ceiling(ctx, ceilingDir)
    results.profiles = {
      relay: await readProfile(relayDir, relayRun.window),
      ceiling: await readProfile(ceilingDir, ceilingRun.window),
      relayRate: relayRun.rate,
      ceilingRate: ceilingRun.rate,
    }
    const kept = path.join(options.out, 'profiles')
    await fs.rm(kept, { recursive: true, force: true })
    await fs.cp(path.join(workDir, 'profiles'), kept, { recursive: true })
    log(`CPU profiles kept in ${kept} (open them in Chrome DevTools or speedscope)`)
  }
} catch (error) {
  failed = true
  log(`failed: ${(error as Error).stack ?? String(error)}`)
} finally {
  await sink.stop()
  await pg.stop()
  await fs.rm(workDir, { recursive: true, force: true })
}

results.finishedAt = new Date().toISOString()
results.machine.loadEnd = os.loadavg()[0]
results.rows = buildRows(results)
results.ratios = buildRatios(results)
const stamp = results.startedAt.replace(/[:.]/g, '-')
const report = markdown(results)
const jsonFile = path.join(options.out, `bench-${options.quick ? 'quick-' : ''}${stamp}.json`)
await fs.writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`)
await fs.writeFile(path.join(options.out, options.quick ? 'latest-quick.md' : 'latest.md'), `${report}\n`)
process.stdout.write(`\n${report}\n\nResults: ${jsonFile} (${((monoMs() - started) / 1000).toFixed(0)} s)\n`)
process.exit(failed ? 1 : 0)
