import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'kysely'
import { startApp } from './helpers/app.ts'
import { waitFor } from './helpers/wait.ts'

/**
 * Issue 20: a relay that claims a delivery it already has in flight (its lease ran
 * out while the receiver held the request) keeps both attempts in its in-flight
 * map: keyed by delivery alone, the second overwrote the first, and the first to
 * finish deleted the entry of the one still running (the relay then claimed past
 * its concurrency, and stop() did not wait for it).
 */
t.test('a relay that claims again a delivery it still has in flight keeps both attempts in flight', async (t) => {
  // a receiver that holds every request until the test answers it
  const held: http.ServerResponse[] = []
  const receiver = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => held.push(res))
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const res of held) res.destroy()
    receiver.closeAllConnections()
    receiver.close(() => resolve())
  }))
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`

  const app = await startApp(t, { WEBHOOK_TIMEOUT_MS: '15000', RELAY_POLL_INTERVAL_MS: '100' })
  const relay = app.relay!
  t.equal((await app.request('POST', '/api/plugins', { name: 'p', slug: 'p', webhook_url: url, events: ['product.created'] })).status, 201)
  await app.request('POST', '/api/products', { name: 'Held' })
  await waitFor(() => held.length === 1, { message: 'the first POST' })
  t.equal(relay.inFlightCount, 1)

  // the lease runs out while the receiver holds the request: back-dated, as the claim sees it
  await sql`update deliveries set next_attempt_at = now() where lease_id is not null`.execute(app.database.db)
  await sql`update plugin_ready set due_at = now(), pending_floor = '-infinity'`.execute(app.database.db)
  relay.wake()
  await waitFor(() => held.length === 2, { message: 'the same relay to claim it again' })
  t.equal(relay.inFlightCount, 2, 'both attempts are in flight')

  // the first attempt ends: its outcome is fenced off, and the second is still counted
  held[0]!.writeHead(200).end()
  await waitFor(() => relay.inFlightCount < 2, { message: 'the first attempt to finish' })
  t.equal(relay.inFlightCount, 1, 'the attempt still running is still in flight')

  held[1]!.writeHead(200).end()
  await waitFor(() => relay.inFlightCount === 0, { message: 'the second attempt to finish' })
  const { rows } = await sql<{ status: string; attempts: number; logged: number }>`
    select d.status, d.attempts, (select count(*)::int from delivery_attempts a where a.delivery_id = d.id) as logged from deliveries d
  `.execute(app.database.db)
  t.same(rows, [{ status: 'sent', attempts: 1, logged: 1 }], 'the newer claim\'s outcome alone is recorded')
})
