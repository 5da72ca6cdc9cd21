import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'

/**
 * `npm run bench -- --quick --only plugins,burst,fairness-at-scale,retention,writers`: issue 13's scenarios, tiny, in a
 * file of their own so each bench file stays within its time (test/bench.test.ts runs
 * the others). The numbers mean nothing at this size; that each scenario measured
 * something, drained everything and reported its ratios is what is checked.
 */
t.test('the quick benchmark runs the platform-scale scenarios and reports their ratios', { timeout: 240_000 }, async (t) => {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-bench-scale-test-'))
  t.teardown(() => fs.rm(out, { recursive: true, force: true }))
  const args = ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', 'bench/run.ts', '--quick', '--only', 'plugins,burst,fairness-at-scale,retention,writers', '--pg-url', process.env.TEST_PG_ADMIN_URL ?? '', '--out', out]
  const child = spawn('/usr/bin/env', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 0, 'the bench exits 0')
  if (code !== 0) t.comment(output.slice(-6000))

  const [file] = (await fs.readdir(out)).filter((f) => f.endsWith('.json'))
  const results = JSON.parse(await fs.readFile(path.join(out, file ?? ''), 'utf8'))
  const measured = (prefix: string) =>
    results.rows.filter((r: any) => r.scenario.startsWith(prefix) && Number.isFinite(r.summary.median) && r.summary.median > 0).length
  for (const prefix of ['10 active plugins', '100 active plugins', 'Fresh burst 400', 'Fairness: 10 small stores', 'Retention: drain', 'Writers: 4 connections']) {
    t.ok(measured(prefix) > 0, `it measures ${prefix}`)
  }
  t.equal(results.burst.runs[400][0].drain.count, 400, 'the fresh burst is drained whole')
  const ratios: string[] = results.ratios.map((r: { name: string }) => r.name)
  const names = ['plugins: claim p50', 'plugins: idle poll', 'burst 400: first 10 %', 'burst 400: ours / graphile-worker']
  for (const name of [...names, 'fairness: trickle commit → receipt p99', 'retention: drain while deleting', 'writers: one plugin / a plugin each']) {
    t.ok(ratios.some((r) => r.startsWith(name)), `it reports the ratio ${name}`)
  }
  t.match(output, /drain timeline/, 'it prints the burst timeline')
})
