import t from 'tap'
import { measured, runQuickBench } from './helpers/bench.ts'

/**
 * `npm run bench -- --quick`: every scenario of the benchmark, tiny, against the
 * suite's PostgreSQL, so the bench cannot rot unnoticed. It asserts that each
 * scenario measured something and that the drains delivered exactly what they
 * should (the bench itself fails on a lost or duplicated delivery); the numbers
 * of a run this small on a shared machine mean nothing and are not compared.
 */
t.test('the quick benchmark runs every scenario and reports each measurement', { timeout: 240_000 }, async (t) => {
  // plugins and burst (issue 13) run in test/bench.scale.test.ts, so each file keeps within its time.
  const { code, output, file, results } = await runQuickBench(t, ['--only', 'drain,latency,write,history,memory', '--relays', '1,2'])
  t.equal(code, 0, 'the bench exits 0')
  if (code !== 0) t.comment(output.slice(-6000))

  t.ok(file, 'it writes its results as JSON')
  t.match(results.machine, { cpus: Number, node: process.version, postgres: /^\d+/ }, 'it records the machine')

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
