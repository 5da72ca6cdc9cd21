import t from 'tap'
import { measured, runQuickBench } from './helpers/bench.ts'

/**
 * `npm run bench -- --quick --only plugins,burst,fairness-at-scale,retention,writers`: issue 13's scenarios, tiny, in a
 * file of their own so each bench file stays within its time (test/bench.test.ts runs
 * the others). The numbers mean nothing at this size; that each scenario measured
 * something, drained everything and reported its ratios is what is checked.
 */
t.test('the quick benchmark runs the platform-scale scenarios and reports their ratios', { timeout: 240_000 }, async (t) => {
  const { code, output, results } = await runQuickBench(t, ['--only', 'plugins,burst,fairness-at-scale,retention,writers'])
  t.equal(code, 0, 'the bench exits 0')
  if (code !== 0) t.comment(output.slice(-6000))

  for (const prefix of ['10 active plugins', '100 active plugins', 'Fresh burst 400', 'Burst 400 held for a paused plugin', 'Fairness: 10 small stores', 'Retention: drain', 'Writers: 4 connections']) {
    t.ok(measured(results.rows, prefix) > 0, `it measures ${prefix}`)
  }
  t.equal(results.burst.runs[400][0].drain.count, 400, 'the fresh burst is drained whole')
  t.equal(results.burst.held[0].drain.count, 400 + 200, 'and the held one, after the warm-up, resumed')
  t.equal(results.burst.held[0].timeline.at(-1), 400, 'its timeline counts the held burst alone, from the resume')
  const ratios: string[] = results.ratios.map((r: { name: string }) => r.name)
  const names = ['plugins: claim p50', 'plugins: idle poll', 'burst 400: first 10 %', 'burst 400 resumed into a running relay: first 10 %', 'burst 400: ours / graphile-worker']
  for (const name of [...names, 'fairness: trickle commit → receipt p99', 'retention: drain while deleting', 'writers: one plugin / a plugin each']) {
    t.ok(ratios.some((r) => r.startsWith(name)), `it reports the ratio ${name}`)
  }
  t.match(output, /drain timeline/, 'it prints the burst timeline')
})
