// `bin/test-plugins [url]` (npm run test:plugins): the spec's full test, against
// a running server. One temporary plugin, subscribed to every event the server
// emits, on a receiver of its own on 127.0.0.1; then every plugin endpoint,
// every event family the server has, a failure that is retried, a manual
// redelivery, a pause, bad input, and clean-up. One ✓/✗ line per step.
// It leaves behind only what a store keeps for good: its test orders, all
// placed for one customer of its own (SUITE_CUSTOMER_EMAIL), reused by every run.

import {
  ApiCallError,
  apiClient,
  eventually,
  parseTarget,
  signatureNote,
  Skip,
  startReceiver,
  Steps,
  suffix,
  type Api,
  type Delivery,
} from './plugin-checks.ts'

interface EventType {
  name: string
  available: boolean
  subscribable: boolean
}

/** A route this server does not have answers 404 ROUTE_NOT_FOUND: the step does not apply. */
async function orSkip<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (error instanceof ApiCallError && error.status === 404 && error.body?.code === 'ROUTE_NOT_FOUND') throw new Skip(`${what} is not on this server`)
    throw error
  }
}

/** Watches the live stream for the whole run, when the server has one. */
function watchStream(target: { url: string; key: string | undefined }, slug: string) {
  const controller = new AbortController()
  const seen: string[] = []
  let status = 0
  const done = (async () => {
    const response = await fetch(`${target.url}/api/plugins/events/stream?plugin=${slug}`, {
      headers: { accept: 'text/event-stream', ...(target.key && { authorization: `Bearer ${target.key}` }) },
      signal: controller.signal,
    })
    status = response.status
    if (!response.ok || !response.body) return
    const decoder = new TextDecoder()
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      for (const match of decoder.decode(chunk, { stream: true }).matchAll(/^event: (\S+)$/gm)) seen.push(match[1]!)
    }
  })().catch(() => {})
  return {
    seen,
    get status() {
      return status
    },
    async stop() {
      controller.abort()
      await done
    },
  }
}

export async function main(argv = process.argv.slice(2), env = process.env): Promise<number> {
  const target = parseTarget(argv, env, 60)
  const api = apiClient(target)
  const steps = new Steps()
  const slug = `plugin-suite-${suffix()}`
  const created = { products: [] as string[], customers: [] as string[], plugin: false }
  process.stdout.write(`BetterCallSold plugin test suite → ${target.url}\n`)

  steps.heading('Server')
  const up = await steps.run('Server is up', async () => {
    const body = await api.expect('GET', '/health')
    return `Server is up: database ${body.database?.status}, relay ${body.relay?.state}`
  })
  if (!up) return steps.summary()
  const catalog = await steps.run('Event catalog', async () => {
    const body = await api.expect('GET', '/api/event-types')
    return body.event_types as EventType[]
  })
  const subscribable = (catalog ?? []).filter((e) => e.available && e.subscribable).map((e) => e.name)
  const has = (event: string) => subscribable.includes(event)

  const receiver = await startReceiver()
  const stream = watchStream(target, slug)
  try {
    steps.heading('Plugin endpoints')
    await steps.run('Register a plugin', async () => {
      const body = await api.expect(
        'POST',
        '/api/plugins',
        { name: 'Plugin test suite', slug, webhook_url: receiver.url, events: subscribable, config: { suite: true }, metadata: { author: 'bin/test-plugins' } },
        201,
      )
      created.plugin = true
      receiver.state.secret = typeof body.secret === 'string' ? body.secret : undefined
      return `Registered ${slug} for ${subscribable.length} event types${body.secret ? ', with its signing secret' : ''}`
    })
    if (!created.plugin) return steps.summary()
    await steps.run('List plugins', async () => {
      const { plugins } = await api.expect('GET', '/api/plugins')
      if (!plugins.some((p: { slug: string }) => p.slug === slug)) throw new Error(`${slug} is not listed`)
      return `GET /api/plugins lists ${slug} among ${plugins.length}`
    })
    await steps.run('Get the plugin', async () => {
      const plugin = await api.expect('GET', `/api/plugins/${slug}`)
      if (plugin.webhook_url !== receiver.url) throw new Error('it has another webhook_url')
      return `GET /api/plugins/${slug}: ${plugin.status}, ${plugin.events.length} events`
    })
    await steps.run('Update it with PUT and PATCH', async () => {
      await api.expect('PUT', `/api/plugins/${slug}`, { name: 'Plugin test suite (updated)' })
      const patched = await api.expect('PATCH', `/api/plugins/${slug}`, { metadata: { author: 'bin/test-plugins', run: 2 } })
      if (patched.name !== 'Plugin test suite (updated)') throw new Error('PUT did not keep')
      return 'PUT and PATCH update any subset'
    })
    await steps.run('Read the signing secret', async () =>
      orSkip('GET /api/plugins/:slug/secret', async () => {
        const { secret } = await api.expect('GET', `/api/plugins/${slug}/secret`)
        if (receiver.state.secret && secret !== receiver.state.secret) throw new Error('it differs from the one given at registration')
        receiver.state.secret = secret
        return 'GET /api/plugins/:slug/secret returns the secret'
      }),
    )
    await steps.run('Connectivity test', async () => {
      const since = receiver.received.length
      const result = await api.expect('POST', `/api/plugins/${slug}/test`)
      if (!result.success) throw new Error(`the receiver did not answer 2xx: ${result.error}`)
      const delivery = await receiver.next((d) => d.json?.event === 'plugin.test', target.timeoutMs, since)
      return `POST /api/plugins/${slug}/test: HTTP ${result.status_code} in ${result.duration_ms} ms, ${signatureNote(delivery)}`
    })
    await steps.run('Connectivity test of a failing endpoint', async () => {
      receiver.state.answer = () => 503
      try {
        const result = await api.expect('POST', `/api/plugins/${slug}/test`)
        if (result.success || result.status_code !== 503) throw new Error(`expected a reported 503, got ${JSON.stringify(result)}`)
        return 'a failing endpoint is reported: success false, status 503'
      } finally {
        receiver.state.answer = () => 200
      }
    })
    await steps.run('Rotate the secret', async () =>
      orSkip('POST /api/plugins/:slug/secret/rotate', async () => {
        const { secret } = await api.expect('POST', `/api/plugins/${slug}/secret/rotate`, {})
        receiver.state.secret = secret
        const since = receiver.received.length
        await api.expect('POST', `/api/plugins/${slug}/test`)
        const delivery = await receiver.next((d) => d.json?.event === 'plugin.test', target.timeoutMs, since)
        return `rotated; the next webhook has a ${signatureNote(delivery)} with the new secret`
      }),
    )

    steps.heading('Event families')
    const expectEvents = async (events: string[], action: () => Promise<unknown>, match: (d: Delivery) => boolean = () => true) => {
      const since = receiver.received.length
      await action()
      const got: string[] = []
      for (const event of events) {
        const delivery = await receiver.next((d) => d.json?.event === event && match(d), target.timeoutMs, since)
        got.push(`${event} (${signatureNote(delivery).replace('signature ', '')})`)
      }
      return got.join(', ')
    }
    const family = (event: string) => {
      if (!has(event)) throw new Skip(`the server does not emit ${event}`)
    }

    let productId = ''
    await steps.run('Products', async () => {
      family('product.created')
      const lines: string[] = []
      lines.push(
        await expectEvents(['product.created'], async () => {
          productId = (await api.expect('POST', '/api/products', { name: 'Suite product', description: 'from bin/test-plugins', price: 19.99 }, 201)).id
          created.products.push(productId)
        }),
      )
      if (has('product.updated')) lines.push(await expectEvents(['product.updated'], () => api.expect('PATCH', `/api/products/${productId}`, { price: 24.5 })))
      return lines.join(', ')
    })
    await steps.run('Inventory', async () => {
      family('inventory.updated')
      if (!productId) throw new Skip('no product to stock')
      const expected = ['inventory.updated', ...(has('inventory.low') ? ['inventory.low'] : []), ...(has('inventory.out') ? ['inventory.out'] : [])]
      return orSkip('PUT /api/products/:id/inventory', async () => {
        await api.expect('PUT', `/api/products/${productId}/inventory`, { quantity: 20 })
        return expectEvents(expected, () => api.expect('PUT', `/api/products/${productId}/inventory`, { quantity: 0 }), (d) => d.json?.data?.product_id === productId)
      })
    })
    let customerId = ''
    await steps.run('Customers', async () => {
      family('customer.created')
      return orSkip('POST /api/customers', async () => {
        const lines = [
          await expectEvents(['customer.created'], async () => {
            customerId = (await api.expect('POST', '/api/customers', { email: `suite-${suffix()}@example.com`, name: 'Suite Customer' }, 201)).id
            created.customers.push(customerId)
          }),
        ]
        if (has('customer.updated')) lines.push(await expectEvents(['customer.updated'], () => api.expect('PATCH', `/api/customers/${customerId}`, { name: 'Suite Customer 2' })))
        return lines.join(', ')
      })
    })
    await steps.run('Orders', async () => {
      family('order.created')
      if (!customerId) throw new Skip('no customer to order for')
      return orSkip('POST /api/orders', async () => {
        // orders are records the store keeps, and they keep their customer: so they go to one
        // customer of the suite's own, reused by every run, and the customer above can be deleted
        const buyer = await suiteCustomer(api)
        const stocked = (await api.expect('POST', '/api/products', { name: 'Suite order product', price: 10, inventory_quantity: 10 }, 201)).id
        created.products.push(stocked)
        const order = () => api.expect('POST', '/api/orders', { customer_id: buyer, items: [{ product_id: stocked, quantity: 1 }] }, 201)
        let orderId = ''
        const ofOrder = (d: Delivery) => d.json?.data?.order_id === orderId || d.json?.data?.id === orderId
        const lines = [await expectEvents(['order.created'], async () => (orderId = (await order()).id))]
        for (const [action, event, body] of [['pay', 'order.paid', {}], ['ship', 'order.shipped', { tracking_number: 'SUITE-1' }], ['deliver', 'order.delivered', {}]] as const) {
          if (has(event)) lines.push(await expectEvents([event], () => api.expect('POST', `/api/orders/${orderId}/${action}`, body), ofOrder))
        }
        if (has('order.cancelled')) {
          lines.push(
            await expectEvents(['order.cancelled'], async () => {
              orderId = (await order()).id
              await api.expect('POST', `/api/orders/${orderId}/cancel`, { reason: 'bin/test-plugins' })
            }, (d) => ofOrder(d)),
          )
        }
        return lines.join(', ')
      })
    })

    steps.heading('Events log')
    await steps.run('Everything delivered is logged as sent', async () => {
      const entries = await eventually(
        async () => {
          const { events } = await api.expect('GET', `/api/plugins/events?plugin=${slug}&limit=500`)
          const settled = (events as { status: string }[]).every((e) => e.status === 'sent' || e.status === 'failed')
          return settled ? (events as { id: number; status: string; event: string }[]) : undefined
        },
        target.timeoutMs,
        'some deliveries are still pending',
      )
      const failed = entries.filter((e) => e.status !== 'sent' && e.event !== 'plugin.test')
      if (failed.length > 0) throw new Error(`not sent: ${failed.map((e) => `#${e.id} ${e.event} ${e.status}`).join(', ')}`)
      return `GET /api/plugins/events?plugin=${slug}: ${entries.length} deliveries, all settled`
    })
    await steps.run('Filter by event, and a delivery with its attempts', async () => {
      const { events } = await api.expect('GET', `/api/plugins/events?plugin=${slug}&event=plugin.test`)
      if (events.length < 2 || events.some((e: { event: string }) => e.event !== 'plugin.test')) throw new Error('the event filter did not hold')
      const detail = await api.expect('GET', `/api/plugins/events/${events[0].id}`)
      if (!Array.isArray(detail.attempt_log) || detail.attempt_log.length === 0) throw new Error('no attempt log')
      return `?event= filters; GET /api/plugins/events/${detail.id} has ${detail.attempt_log.length} attempt(s)`
    })

    steps.heading('Failure, retry, pause')
    const retried = await steps.run('A failed delivery is retried', async () => {
      family('product.created')
      // the next product.created fails once, then the receiver recovers
      let failures = 0
      receiver.state.answer = (d) => (d.json?.event === 'product.created' && failures++ === 0 ? 500 : 200)
      try {
        const since = receiver.received.length
        const id = (await api.expect('POST', '/api/products', { name: 'Suite retry product' }, 201)).id
        created.products.push(id)
        const isIt = (d: Delivery) => d.json?.event === 'product.created' && d.json?.data?.product_id === id
        const first = await receiver.next(isIt, target.timeoutMs, since)
        const second = await receiver.next((d) => isIt(d) && d !== first, target.timeoutMs, since)
        if (first.headers['webhook-id'] !== second.headers['webhook-id']) throw new Error('the retry has another webhook-id')
        const deliveryId = Number(String(second.headers['webhook-id']).replace(/^dlv_/, ''))
        const logged = await eventually(
          async () => {
            const detail = await api.expect('GET', `/api/plugins/events/${deliveryId}`)
            return detail.status === 'sent' ? detail : undefined
          },
          target.timeoutMs,
          'not logged as sent after the retry',
        )
        const codes = logged.attempt_log.map((a: { status_code: number | null }) => a.status_code).join(' → ')
        return { deliveryId, line: `500, then retried after ${Math.round((second.at - first.at) / 100) / 10} s: ${codes}, same webhook-id` }
      } finally {
        receiver.state.answer = () => 200
      }
    })
    if (retried) process.stdout.write(`      ${retried.line}\n`)
    await steps.run('Redeliver a delivery by hand', async () => {
      if (!retried) throw new Skip('no delivery to redeliver')
      return orSkip('POST /api/plugins/events/:id/retry', async () => {
        const since = receiver.received.length
        await api.expect('POST', `/api/plugins/events/${retried.deliveryId}/retry`)
        const again = await receiver.next((d) => d.headers['webhook-id'] === `dlv_${retried.deliveryId}`, target.timeoutMs, since)
        return `POST /api/plugins/events/${retried.deliveryId}/retry: received again as ${again.headers['webhook-id']}, ${signatureNote(again)}`
      })
    })
    await steps.run('A paused plugin receives nothing until resumed', async () => {
      family('product.created')
      await api.expect('PATCH', `/api/plugins/${slug}`, { status: 'paused' })
      const since = receiver.received.length
      const id = (await api.expect('POST', '/api/products', { name: 'Suite paused product' }, 201)).id
      created.products.push(id)
      // process everything due now: a paused plugin's delivery is not due
      const processed = await api.expect('POST', '/api/plugins/events')
      const held = receiver.received.slice(since).filter((d) => d.json?.data?.product_id === id)
      if (held.length > 0) throw new Error('it was delivered while paused')
      const { events } = await api.expect('GET', `/api/plugins/events?plugin=${slug}&event=product.created&limit=1`)
      if (events[0]?.status !== 'pending') throw new Error(`its delivery is ${events[0]?.status}, not pending`)
      await api.expect('PATCH', `/api/plugins/${slug}`, { status: 'active' })
      const delivery = await receiver.next((d) => d.json?.data?.product_id === id, target.timeoutMs, since)
      return `held while paused (POST /api/plugins/events sent ${processed.sent} others), delivered on resume, ${signatureNote(delivery)}`
    })
    await steps.run('Statistics', async () =>
      orSkip('GET /api/plugins/events/stats', async () => {
        const { plugins } = await api.expect('GET', '/api/plugins/events/stats')
        const mine = plugins.find((p: { plugin: string }) => p.plugin === slug)
        if (!mine || mine.last_hour === 0) throw new Error('no numbers for the plugin')
        return `stats: ${mine.last_hour} deliveries in the last hour, p50 ${mine.p50_ms} ms`
      }),
    )
    await steps.run('Live stream', async () => {
      if (stream.status === 404) throw new Skip('GET /api/plugins/events/stream is not on this server')
      await eventually(async () => stream.seen.includes('sent'), 5000, `no delivery seen on the stream (status ${stream.status})`)
      const count = (name: string) => stream.seen.filter((e) => e === name).length
      return `the stream showed ${count('created')} created, ${count('retry')} retry, ${count('sent')} sent`
    })

    steps.heading('Bad input')
    await steps.run('Refused with a 4xx and a code', async () => {
      const cases: [string, string, unknown, number, string][] = [
        ['unknown event', '/api/plugins', { name: 'x', slug: `bad-${suffix()}`, webhook_url: receiver.url, events: ['product.exploded'] }, 400, 'UNKNOWN_EVENT'],
        ['duplicate slug', '/api/plugins', { name: 'x', slug, webhook_url: receiver.url, events: ['product.created'] }, 409, 'SLUG_TAKEN'],
        ['unknown property', '/api/plugins', { name: 'x', slug: `bad-${suffix()}`, webhook_url: receiver.url, events: ['product.created'], colour: 'red' }, 400, 'VALIDATION_ERROR'],
      ]
      for (const [what, path, body, status, code] of cases) {
        const res = await api.call('POST', path, body)
        if (res.status !== status || res.body?.code !== code) throw new Error(`${what}: ${res.status} ${res.body?.code}, expected ${status} ${code}`)
      }
      const missing = await api.call('GET', `/api/plugins/no-such-plugin-${suffix()}`)
      if (missing.status !== 404 || missing.body?.code !== 'NOT_FOUND') throw new Error(`unknown plugin: ${missing.status}`)
      return `${cases.length + 1} bad requests answered 4xx with their code`
    })
  } finally {
    await stream.stop()
    steps.heading('Clean-up')
    await cleanUp(api, steps, created, slug)
    await receiver.close()
  }
  return steps.summary()
}

/** The customer every run's test orders belong to: found by its address, created on the first run. */
export const SUITE_CUSTOMER_EMAIL = 'plugin-suite@bettercallsold.invalid'

async function suiteCustomer(api: Api): Promise<string> {
  const found = await api.expect('GET', `/api/customers?email=${encodeURIComponent(SUITE_CUSTOMER_EMAIL)}`)
  if (found.customers?.[0]?.id) return found.customers[0].id as string
  const created = await api.call('POST', '/api/customers', { email: SUITE_CUSTOMER_EMAIL, name: 'Plugin test suite (orders)' })
  if (created.status === 201) return created.body.id as string
  // another run created it meanwhile
  const again = await api.expect('GET', `/api/customers?email=${encodeURIComponent(SUITE_CUSTOMER_EMAIL)}`)
  if (!again.customers?.[0]?.id) throw new ApiCallError(created.status, created.body, 'POST /api/customers')
  return again.customers[0].id as string
}

/** Deletes what the run created; what the server keeps for good reason (a customer with orders) is left and said. */
async function cleanUp(api: Api, steps: Steps, created: { products: string[]; customers: string[]; plugin: boolean }, slug: string): Promise<void> {
  if (created.plugin) {
    await steps.run(`Delete plugin ${slug}`, async () => {
      await api.expect('DELETE', `/api/plugins/${slug}`, undefined, 204)
      await api.expect('GET', `/api/plugins/${slug}`, undefined, 404)
      return `DELETE /api/plugins/${slug}: 204, then 404`
    })
  }
  const remove = async (path: string) => {
    const res = await api.call('DELETE', path)
    if (res.status === 204 || res.status === 404) return 'deleted'
    if (res.status === 409) return 'kept'
    throw new ApiCallError(res.status, res.body, `DELETE ${path}`)
  }
  const tally = async (kind: string, ids: string[], path: (id: string) => string) => {
    if (ids.length === 0) return
    await steps.run(`Delete ${kind}`, async () => {
      const results = []
      for (const id of ids) results.push(await remove(path(id)))
      const kept = results.filter((r) => r === 'kept').length
      return `Deleted ${results.length - kept} ${kind}${kept ? ` (${kept} kept: they have orders)` : ''}`
    })
  }
  await tally('customers', created.customers, (id) => `/api/customers/${id}`)
  await tally('products', created.products, (id) => `/api/products/${id}`)
}

