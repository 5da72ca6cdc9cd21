import t from 'tap'
import { aggregateOnce } from '../src/analytics/aggregator.ts'
import { startApp } from './helpers/app.ts'
import { startReceiver } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

// An attempt's outcome is written with it (db/0020). It used to be derived at
// aggregation time from the delivery's status then: a delivery that failed for
// good and was redelivered by hand before the aggregator ran read as "retried",
// so the success rate came out 100 % or 50 % depending on when the run came.
t.test('a failed-for-good attempt stays failed in the rollups when its delivery is redelivered before they are computed', async (t) => {
  let fail = true
  const receiver = await startReceiver(t, () => (fail ? 500 : 200))
  // no aggregator in the app: this test runs it, after the redelivery
  const app = await startApp(t, { ANALYTICS: 'off', WEBHOOK_MAX_RETRIES: '0' })
  t.equal((await app.request('POST', '/api/plugins', { name: 'Shop', slug: 'shop', webhook_url: receiver.url, events: ['product.created'] })).status, 201)
  await app.request('POST', '/api/products', { name: 'Lamp', price: 20 })
  const failed = await waitFor(async () => (await app.request('GET', '/api/plugins/events?plugin=shop&status=failed')).body.events[0], {
    message: 'the delivery to fail for good',
  })

  fail = false
  t.equal((await app.request('POST', `/api/plugins/events/${failed.id}/retry`)).status, 202)
  await waitFor(async () => (await app.request('GET', `/api/plugins/events/${failed.id}`)).body.status === 'sent', { message: 'the redelivery to be sent' })
  const attempts = await app.database.db.selectFrom('delivery_attempts').select(['attempt', 'outcome']).where('delivery_id', '=', failed.id).orderBy('id').execute()
  t.same(attempts, [{ attempt: 1, outcome: 'failed' }, { attempt: 2, outcome: 'sent' }], 'each attempt carries its own outcome')

  // other test files share the cluster and can hold the horizon back for a while
  let folded = 0
  await waitFor(async () => (folded += (await aggregateOnce(app.database.db, app.config))?.attempts ?? 0) >= 2, { timeoutMs: 60_000, message: 'both attempts folded' })
  const from = new Date(Date.now() - 3_600_000).toISOString()
  const { totals } = (await app.request('GET', `/api/analytics/plugins/shop?granularity=hour&from=${from}`)).body
  t.match(totals, { attempts: 2, sent: 1, retried: 0, failed: 1, success_rate: 0.5 }, 'one failed, one sent: as they were when they happened')
})
