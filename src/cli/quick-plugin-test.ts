// `bin/quick-plugin-test [url]` (npm run test:quick): the spec's quick test,
// against a running server. Registers a temporary plugin pointing at a receiver
// of its own on 127.0.0.1, tests connectivity, creates a product, waits for the
// signed webhook and verifies it, shows its events log entry, and cleans up.

import { apiClient, parseTarget, signatureNote, startReceiver, Steps, suffix, eventually, type Delivery } from './plugin-checks.ts'

export async function main(argv = process.argv.slice(2), env = process.env): Promise<number> {
  const target = parseTarget(argv, env, 30)
  const api = apiClient(target)
  const steps = new Steps()
  const slug = `quick-test-${suffix()}`
  process.stdout.write(`BetterCallSold quick plugin test → ${target.url}\n\n`)

  const health = await steps.run('Server is up', async () => {
    const body = await api.expect('GET', '/health')
    return `Server is up: database ${body.database?.status}, relay ${body.relay?.state}`
  })
  if (!health) return steps.summary()

  const receiver = await startReceiver()
  let productId: string | undefined
  let plugin: { slug: string } | undefined
  try {
    await steps.run('Receiver started', async () => `Receiver listening on ${receiver.url}`)

    plugin = await steps.run(`Register plugin ${slug}`, async () => {
      const created = await api.expect('POST', '/api/plugins', {
        name: 'Quick test plugin',
        slug,
        webhook_url: receiver.url,
        events: ['product.created'],
        metadata: { description: 'Temporary plugin of bin/quick-plugin-test; deleted when it ends' },
      })
      receiver.state.secret = typeof created.secret === 'string' ? created.secret : undefined
      return created
    })
    if (!plugin) return steps.summary()

    await steps.run('Connectivity test', async () => {
      const result = await api.expect('POST', `/api/plugins/${slug}/test`)
      if (!result.success) throw new Error(`the endpoint did not answer 2xx: ${result.error ?? result.status_code}`)
      const delivery = await receiver.next((d) => d.json?.event === 'plugin.test', target.timeoutMs)
      return `Connectivity test: HTTP ${result.status_code} in ${result.duration_ms} ms, ${signatureNote(delivery)}`
    })

    const product = await steps.run('Create a product', async () => {
      const created = await api.expect('POST', '/api/products', { name: 'Quick test product', description: 'This will trigger webhooks', price: 19.99 })
      productId = created.id
      return `Created product ${created.id}`
    })

    // set by the step that receives it (a holder: TypeScript does not follow assignments made in callbacks)
    const got: { delivery?: Delivery } = {}
    if (product) {
      await steps.run('Receive product.created', async () => {
        got.delivery = await receiver.next((d) => d.json?.event === 'product.created' && d.json?.data?.product_id === productId, target.timeoutMs)
        return `Received product.created as ${got.delivery.headers['webhook-id']}, ${signatureNote(got.delivery)}`
      })
    }

    if (got.delivery) {
      const id = Number(String(got.delivery.headers['webhook-id']).replace(/^dlv_/, ''))
      await steps.run('Events log entry', async () => {
        // the receiver has it; the outcome is recorded a moment later
        const entry = await eventually(
          async () => {
            const { events } = await api.expect('GET', `/api/plugins/events?plugin=${slug}&event=product.created&limit=5`)
            return (events as { id: number; status: string }[]).find((e) => e.id === id && e.status === 'sent')
          },
          target.timeoutMs,
          'the delivery is not logged as sent',
        )
        const detail = await api.expect('GET', `/api/plugins/events/${entry.id}`)
        const attempt = detail.attempt_log?.at(-1)
        return `Events log: #${entry.id} ${detail.status} after ${detail.attempts} attempt(s), last HTTP ${attempt?.status_code} in ${attempt?.duration_ms} ms`
      })
    }
  } finally {
    if (productId) await steps.run('Delete the product', async () => void (await api.expect('DELETE', `/api/products/${productId}`)))
    if (plugin) await steps.run(`Delete plugin ${slug}`, async () => void (await api.expect('DELETE', `/api/plugins/${slug}`)))
    await receiver.close()
  }
  return steps.summary()
}
