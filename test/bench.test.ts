import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'

/**
 * `npm run bench -- --quick`: every scenario of the benchmark, tiny, against the
 * suite's PostgreSQL, so the bench cannot rot unnoticed. It asserts that each
 * scenario measured something and that the drains delivered exactly what they
 * should (the bench itself fails on a lost or duplicated delivery); the numbers
 * of a run this small on a shared machine mean nothing and are not compared.
 */
t.test('the quick benchmark runs every scenario and reports each measurement', { timeout: 240_000 }, async (t) => {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-bench-test-'))
  t.teardown(() => fs.rm(out, { recursive: true, force: true }))
  // plugins and burst (issue 13) run in test/bench.scale.test.ts, so each file keeps within its time.
  // `env -u NODE_OPTIONS`: tap's process tracking adds its loader to every child it
  // sees spawned; it would ride into the bench and every process the bench starts
  const args = ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', 'bench/run.ts', '--quick', '--only', 'drain,latency,write,history,memory', '--relays', '1,2', '--pg-url', process.env.TEST_PG_ADMIN_URL ?? '', '--out', out]
  const child = spawn('/usr/bin/env', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 0, 'the bench exits 0')
  if (code !== 0) t.comment(output.slice(-6000))

  const [file] = (await fs.readdir(out)).filter((f) => f.endsWith('.json'))
  t.ok(file, 'it writes its results as JSON')
  const results = JSON.parse(await fs.readFile(path.join(out, file ?? ''), 'utf8'))
  t.match(results.machine, { cpus: Number, node: process.version, postgres: /^\d+/ }, 'it records the machine')

  const measured = (rows: { scenario: string; summary: { median: number } }[], prefix: string) =>
    rows.filter((r) => r.scenario.startsWith(prefix) && Number.isFinite(r.summary.median) && r.summary.median > 0).length
  for (const prefix of ['Drain', 'Ceiling', 'Peer', 'Latency', 'Write cost', 'History', 'Memory']) {
    t.ok(measured(results.rows, prefix) > 0, `it measures ${prefix}`)
  }
  t.equal(results.drain.relays[1][0].count, 400, 'a drain delivers the whole backlog')
  const ratios: string[] = results.ratios.map((r: { name: string }) => r.name)
  for (const name of ['drain, 1 relay / client ceiling', 'drain, 1 relay / graphile-worker', 'drain, 2 relays / 1 relay', 'writes, 10 plugins / none', 'history: drain rate', 'history: claim p50', 'memory: RSS']) {
    t.ok(ratios.some((r) => r.startsWith(name)), `it reports the ratio ${name}`)
  }
  t.match(output, /\| Scenario \| Measure \| Median \| Range \| Runs \|/, 'it prints the table')
})
