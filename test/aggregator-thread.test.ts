import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { startAggregatorThread } from '../src/analytics/aggregator-thread.ts'
import { waitFor } from './helpers/wait.ts'

function capturedLogger() {
  const lines: { level: number; msg: string }[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  return { log: pino({ level: 'info' }, destination), lines }
}

const FAILING = new URL('./fixtures/failing-aggregator-worker.mjs', import.meta.url)
const exits = (lines: { msg: string }[]) => lines.filter((l) => l.msg.startsWith('analytics aggregator thread exited')).length

t.test('an aggregator thread that dies is logged and started again', async (t) => {
  const { log, lines } = capturedLogger()
  const thread = startAggregatorThread('postgres://127.0.0.1:1/none', log, { entry: FAILING, restartAfterMs: 20 })
  await waitFor(() => exits(lines) >= 2, { message: 'the thread failed, was started again and failed again' })
  t.ok(lines.some((l) => l.msg === 'analytics aggregator thread failed' && l.level === 50), 'each failure is logged as an error')
  await thread.stop()
})

t.test('stop() between a failure and its restart returns at once and starts nothing', async (t) => {
  const { log, lines } = capturedLogger()
  const thread = startAggregatorThread('postgres://127.0.0.1:1/none', log, { entry: FAILING, restartAfterMs: 60_000 })
  await waitFor(() => exits(lines) === 1, { message: 'the thread failed' })
  // no thread is running: stop() must not wait for an exit that already happened
  await thread.stop()
  t.equal(exits(lines), 1, 'stopped, with its restart cancelled')
})
