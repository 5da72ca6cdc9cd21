import type { LookupAddress } from 'node:dns'
import t from 'tap'
import {
  addressProblem,
  classifyAddress,
  guardedLookup,
  webhookUrlProblem,
  type AddressPolicy,
  type Resolver,
} from '../src/net/guard.ts'
import { createWebhookClient } from '../src/relay/http-client.ts'
import { startApp } from './helpers/app.ts'
import { startReceiver } from './helpers/receiver.ts'
import { waitFor } from './helpers/wait.ts'

// Every address below is only classified or refused before any connection:
// the one receiver that is contacted listens on 127.0.0.1.

const strict: AddressPolicy = { allowPrivate: false, httpsOnly: false }
const development: AddressPolicy = { allowPrivate: true, httpsOnly: false }

t.test('classifies every special IPv4 range, and leaves public addresses alone', async (t) => {
  const cases: [string, string | null][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.0.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.100.100.200', 'cgnat'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['198.18.0.1', 'benchmark'],
    ['198.19.255.255', 'benchmark'],
    // neighbours of the ranges are public
    ['172.15.255.255', null],
    ['172.32.0.0', null],
    ['100.63.255.255', null],
    ['100.128.0.0', null],
    ['198.20.0.0', null],
    ['11.0.0.1', null],
    ['8.8.8.8', null],
    ['93.184.216.34', null],
  ]
  for (const [address, kind] of cases) t.equal(classifyAddress(address)?.kind ?? null, kind, address)
})

t.test('classifies IPv6 forms, following embedded IPv4 addresses to where they lead', async (t) => {
  const cases: [string, string | null, string?][] = [
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001::1', 'reserved'], // Teredo
    ['100::1', 'reserved'],
    ['fec0::1', 'reserved'],
    ['4000::1', 'reserved'], // outside global unicast
    ['fd00:ec2::254', 'metadata'],
    ['::ffff:127.0.0.1', 'loopback', 'IPv4-mapped'],
    ['::ffff:7f00:1', 'loopback', 'IPv4-mapped'],
    ['::FFFF:A9FE:A9FE', 'metadata', 'IPv4-mapped'],
    ['::ffff:10.1.2.3', 'private', 'IPv4-mapped'],
    ['::127.0.0.1', 'loopback', 'IPv4-compatible'],
    ['64:ff9b::10.0.0.1', 'private', 'NAT64'],
    ['64:ff9b::a9fe:a9fe', 'metadata', 'NAT64'],
    ['64:ff9b:1::1', 'reserved'],
    ['2002:7f00:1::', 'loopback', '6to4'],
    ['2002:c0a8:0101::1', 'private', '6to4'],
    // public, including embeddings of public IPv4 addresses
    ['2606:4700:4700::1111', null],
    ['2a00:1450:4001:80b::200e', null],
    ['::ffff:8.8.8.8', null],
    ['64:ff9b::808:808', null],
    ['2002:808:808::1', null],
  ]
  for (const [address, kind, form] of cases) {
    const c = classifyAddress(address)
    t.equal(c?.kind ?? null, kind, address)
    if (form) t.equal(c?.via?.form, form, `${address} is recognised as ${form}`)
  }
  t.throws(() => classifyAddress('localhost'), TypeError, 'a name is not an address')
})

t.test('ALLOW_PRIVATE_WEBHOOKS permits loopback and private ranges only', async (t) => {
  t.equal(addressProblem('10.0.0.1', strict), '10.0.0.1 is a private address')
  t.equal(addressProblem('127.0.0.1', strict), '127.0.0.1 is a loopback address')
  t.equal(addressProblem('10.0.0.1', development), null)
  t.equal(addressProblem('::1', development), null)
  t.equal(addressProblem('fd00::1', development), null)
  for (const address of ['169.254.169.254', 'fd00:ec2::254', 'fd20:ce::254', '168.63.129.16', '::ffff:168.63.129.16', '169.254.1.1', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::ffff:169.254.169.254']) {
    t.not(addressProblem(address, development), null, `${address} stays refused`)
  }
  t.equal(
    addressProblem('::ffff:a9fe:a9fe', development),
    '::ffff:a9fe:a9fe is the cloud metadata address (IPv4-mapped 169.254.169.254)',
    'the reason names the embedded address',
  )
})

t.test('refuses unsafe webhook URLs with a reason, including numeric spellings of IPv4 addresses', async (t) => {
  const refused: [string, AddressPolicy, RegExp][] = [
    ['http://2130706433/', development, /'2130706433' is a non-standard spelling of the IPv4 address 127\.0\.0\.1/],
    ['http://0x7f000001/', development, /non-standard spelling .* 127\.0\.0\.1/],
    ['http://0177.0.0.1/', development, /non-standard spelling .* 127\.0\.0\.1/],
    ['http://127.1/', development, /non-standard spelling/],
    ['http://0x7f.0.0.1/', development, /non-standard spelling/],
    ['http://127.0.0.1./', development, /non-standard spelling/],
    ['http://%31%32%37.0.0.1/', development, /non-standard spelling/],
    ['http://user@0x7f000001:80/', development, /non-standard spelling/],
    ['http://a@b@127.1/', development, /non-standard spelling/],
    ['http:\\\\2130706433/', development, /non-standard spelling/],
    ['http://169.254.169.254/latest/meta-data/', development, /169\.254\.169\.254 is the cloud metadata address/],
    ['http://[::ffff:169.254.169.254]/', development, /cloud metadata address \(IPv4-mapped 169\.254\.169\.254\)/],
    ['http://[fd00:ec2::254]/', development, /cloud metadata/],
    ['http://[fd20:ce::254]/computeMetadata/v1/', development, /fd20:ce::254 is the cloud metadata address/],
    ['http://168.63.129.16/machine?comp=goalstate', development, /168\.63\.129\.16 is the cloud metadata address/],
    ['http://168.63.129.16/', strict, /cloud metadata address/],
    ['http://metadata.google.internal/computeMetadata/v1/', development, /cloud metadata name/],
    ['http://0.0.0.0:8080/', development, /unspecified/],
    ['http://[::]/', development, /unspecified/],
    ['http://100.64.0.1/', development, /CGNAT/],
    ['http://169.254.10.10/', development, /link-local/],
    ['http://[fe80::1]/', development, /link-local/],
    ['http://224.0.0.1/', development, /multicast/],
    ['http://255.255.255.255/', development, /broadcast/],
    ['http://192.0.2.1/', development, /documentation/],
    ['http://198.18.0.1/', development, /benchmarking/],
    ['http://[64:ff9b::a9fe:a9fe]/', development, /NAT64 169\.254\.169\.254/],
    ['http://[2002:a9fe:a9fe::]/', development, /6to4 169\.254\.169\.254/],
    ['ftp://example.com/', development, /the ftp: scheme is not allowed/],
    ['file:///etc/passwd', development, /file: scheme/],
    ['gopher://127.0.0.1:6379/_', development, /gopher: scheme/],
    ['not a url', development, /not a valid URL/],
    ['http://127.0.0.1:9/hook', strict, /127\.0\.0\.1 is a loopback address/],
    ['http://10.0.0.1/', strict, /private/],
    ['http://192.168.0.10/', strict, /private/],
    ['http://172.20.0.1/', strict, /private/],
    ['http://[::1]/', strict, /loopback/],
    ['http://[::ffff:127.0.0.1]/', strict, /loopback address \(IPv4-mapped 127\.0\.0\.1\)/],
    ['http://[fc00::1]/', strict, /private/],
    ['http://localhost:8080/', strict, /localhost is a loopback name/],
    ['http://api.localhost/', strict, /loopback name/],
    ['http://redis:6379/', strict, /redis is an internal name/],
    ['http://printer.local/', strict, /internal name/],
    ['http://db.internal/', strict, /internal name/],
    ['http://example.com/hook', { allowPrivate: false, httpsOnly: true }, /http: URLs are refused/],
  ]
  for (const [url, policy, reason] of refused) t.match(webhookUrlProblem(url, policy), reason, url)

  const accepted: [string, AddressPolicy][] = [
    ['https://myservice.example/webhooks/bettercallsold', strict],
    ['https://hooks.example.com:8443/a?b=c', { allowPrivate: false, httpsOnly: true }],
    ['http://93.184.216.34/hook', strict],
    ['http://[2606:4700:4700::1111]/', strict],
    ['http://127.0.0.1:3000/hook', development],
    ['http://[::1]:3000/hook', development],
    ['http://localhost:3000/hook', development],
    ['http://receiver:3000/hook', development],
    ['http://user:pass@hooks.example.com/', strict],
  ]
  for (const [url, policy] of accepted) t.equal(webhookUrlProblem(url, policy), null, url)
})

/** A resolver that answers from a table and records every question; it never sends a query. */
function stubResolver(answers: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = []
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname)
    const addresses = answers[hostname]
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
  return Object.assign(resolve, { asked })
}

function lookupOnce(lookup: ReturnType<typeof guardedLookup>, hostname: string, all: boolean) {
  return new Promise<{ error: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) =>
    lookup(hostname, { all }, (error, address, family) => resolve({ error, address, family })),
  )
}

t.test('the guarded lookup checks every address a name resolves to', async (t) => {
  const resolve = stubResolver({
    'public.test': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'mixed.test': ['93.184.216.34', '10.0.0.1'],
    'metadata.test': ['169.254.169.254'],
    'gcp-metadata.test': ['fd20:ce::254'],
    'azure-wire.test': ['168.63.129.16'],
    'loop.test': ['127.0.0.1'],
  })
  const lookup = guardedLookup(strict, resolve)

  const single = await lookupOnce(lookup, 'public.test', false)
  t.same([single.error, single.address, single.family], [null, '93.184.216.34', 4], 'one address when one is asked for')
  const all = await lookupOnce(lookup, 'public.test', true)
  t.same(all.address, [
    { address: '93.184.216.34', family: 4 },
    { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
  ])

  const mixed = await lookupOnce(lookup, 'mixed.test', true)
  t.match(mixed.error, { code: 'ERR_BLOCKED_ADDRESS', message: 'blocked: 10.0.0.1 is a private address (resolved from mixed.test)' }, 'one bad answer taints the name')
  t.match((await lookupOnce(lookup, 'loop.test', false)).error?.message, /blocked: 127\.0\.0\.1 is a loopback address/)
  t.match((await lookupOnce(lookup, 'nowhere.test', false)).error, { code: 'ENOTFOUND' })
  t.equal((await lookupOnce(guardedLookup(development, resolve), 'loop.test', false)).address, '127.0.0.1')
  t.match((await lookupOnce(guardedLookup(development, resolve), 'metadata.test', false)).error?.message, /cloud metadata/)
  // GCP's IPv6 metadata sits inside fc00::/7 and Azure's WireServer in public space: refused all the same
  t.match((await lookupOnce(guardedLookup(development, resolve), 'gcp-metadata.test', false)).error?.message, /fd20:ce::254 is the cloud metadata address/)
  t.match((await lookupOnce(guardedLookup(development, resolve), 'azure-wire.test', false)).error?.message, /168\.63\.129\.16 is the cloud metadata address/)
})

const clientOptions = { timeoutMs: 2000, maxResponseBytes: 1024, userAgent: 'guard-test', maxSockets: 4 }

t.test('the webhook client refuses before connecting: literal addresses, and names by what they resolve to', async (t) => {
  const receiver = await startReceiver(t, 200)
  const resolve = stubResolver({ 'hooks.test': ['127.0.0.1'], 'rebind.test': ['10.0.0.1'] })
  const client = createWebhookClient({ ...clientOptions, policy: strict, resolve })
  t.teardown(() => client.close())

  const literal = await client.post(receiver.url, {}, '{}')
  t.same([literal.ok, literal.statusCode, literal.error], [false, null, 'blocked: 127.0.0.1 is a loopback address'])

  const byName = await client.post(`http://hooks.test:${receiver.port}/hook`, {}, '{}')
  t.equal(byName.error, 'blocked: 127.0.0.1 is a loopback address (resolved from hooks.test)', 'the name is refused by its address')
  t.same(resolve.asked, ['hooks.test'], 'the name was resolved by the injected resolver')

  // the name passed every check at registration; it is what it resolves to at send time that counts
  const rebound = await client.post('http://rebind.test/hook', {}, '{}')
  t.equal(rebound.error, 'blocked: 10.0.0.1 is a private address (resolved from rebind.test)')

  const unspecified = await client.post('http://0.0.0.0:9/hook', {}, '{}')
  t.equal(unspecified.error, 'blocked: 0.0.0.0 is an unspecified address')
  const trick = await client.post(`http://2130706433:${receiver.port}/hook`, {}, '{}')
  t.match(trick.error, /^blocked: '2130706433' is a non-standard spelling/)

  const https = createWebhookClient({ ...clientOptions, policy: { allowPrivate: true, httpsOnly: true } })
  t.teardown(() => https.close())
  t.equal((await https.post(receiver.url, {}, '{}')).error, 'blocked: http: URLs are refused, use https (HTTPS_ONLY)')

  t.equal(receiver.received.length, 0, 'nothing reached the receiver')
})

t.test('the connection goes to the address the guard checked', async (t) => {
  const receiver = await startReceiver(t, 204)
  const resolve = stubResolver({ 'hooks.test': ['127.0.0.1'] })
  const client = createWebhookClient({ ...clientOptions, policy: development, resolve })
  t.teardown(() => client.close())
  const outcome = await client.post(`http://hooks.test:${receiver.port}/hook`, {}, '{"a":1}')
  t.same([outcome.ok, outcome.statusCode, outcome.error], [true, 204, null])
  t.equal(receiver.received[0]?.headers.host, `hooks.test:${receiver.port}`, 'the receiver on 127.0.0.1 got the request for hooks.test')
  t.same(resolve.asked, ['hooks.test'])
})

const plugin = (url: string) => ({ name: 'Guarded', slug: 'guarded', webhook_url: url, events: ['product.created'] })

t.test('registration and update refuse unsafe URLs with 400 UNSAFE_WEBHOOK_URL naming the reason', async (t) => {
  const receiver = await startReceiver(t, 200)
  const app = await startApp(t, { RELAY: 'off', ALLOW_PRIVATE_WEBHOOKS: 'false' })
  const refused = await app.request('POST', '/api/plugins', plugin(receiver.url))
  t.equal(refused.status, 400)
  t.match(refused.body, { code: 'UNSAFE_WEBHOOK_URL', message: 'webhook_url is refused: 127.0.0.1 is a loopback address' })

  const created = await app.request('POST', '/api/plugins', plugin('https://hooks.example.com/bcs'))
  t.equal(created.status, 201, 'a public name is accepted')
  const update = await app.request('PUT', '/api/plugins/guarded', { webhook_url: 'http://0x0a000001/' })
  t.match(update.body, { statusCode: 400, code: 'UNSAFE_WEBHOOK_URL', message: /non-standard spelling of the IPv4 address 10\.0\.0\.1/ })
  const patch = await app.request('PATCH', '/api/plugins/guarded', { webhook_url: 'http://[::ffff:10.0.0.1]/' })
  t.match(patch.body, { code: 'UNSAFE_WEBHOOK_URL', message: /private address \(IPv4-mapped 10\.0\.0\.1\)/ })
  t.equal((await app.request('GET', '/api/plugins/guarded')).body.webhook_url, 'https://hooks.example.com/bcs', 'the plugin kept its URL')
})

t.test('HTTPS_ONLY refuses http: URLs at registration', async (t) => {
  const app = await startApp(t, { RELAY: 'off', HTTPS_ONLY: 'true' })
  const res = await app.request('POST', '/api/plugins', plugin('http://hooks.example.com/bcs'))
  t.match(res.body, { statusCode: 400, code: 'UNSAFE_WEBHOOK_URL', message: /http: URLs are refused/ })
  t.equal((await app.request('POST', '/api/plugins', plugin('https://hooks.example.com/bcs'))).status, 201)
})

t.test('a URL registered while private targets were allowed is refused at send time once they are not', async (t) => {
  const receiver = await startReceiver(t, 200)
  const permissive = await startApp(t, { RELAY: 'off', ALLOW_PRIVATE_WEBHOOKS: 'true' })
  t.equal((await permissive.request('POST', '/api/plugins', plugin(receiver.url))).status, 201)
  // the same database, served with the production default
  const strictApp = await startApp(t, { RELAY: 'off', ALLOW_PRIVATE_WEBHOOKS: 'false' }, permissive.database)

  const test = await strictApp.request('POST', '/api/plugins/guarded/test')
  t.equal(test.status, 200)
  t.match(test.body, { success: false, status_code: null, error: 'blocked: 127.0.0.1 is a loopback address' })

  t.equal((await strictApp.request('POST', '/api/products', { name: 'Lamp', price: 10 })).status, 201)
  const processed = await strictApp.request('POST', '/api/plugins/events')
  t.match(processed.body, { processed: 1, sent: 0 })
  const log = await waitFor(async () => {
    const events = (await strictApp.request('GET', '/api/plugins/events?event=product.created')).body.events
    return events.length === 1 && events
  })
  t.match(log[0], { status: 'retry', last_error: 'blocked: 127.0.0.1 is a loopback address' }, 'the attempt failed with a clear error')
  t.equal(receiver.received.length, 0, 'nothing reached the receiver')

  // and the permissive server still delivers to it: the refusal is the policy's, not the URL's
  t.match((await permissive.request('POST', '/api/plugins/guarded/test')).body, { success: true, status_code: 200 })
  await receiver.waitForCount(1)
})
