/**
 * The database crashes under load, and comes back on the same port: a
 * PostgreSQL of this file's own (its own data directory), killed with SIGQUIT
 * (immediate shutdown) and with SIGKILL of the postmaster while writes go
 * through a real API process and deliveries through two real `bin/relay`
 * processes, which were themselves started while the database was down.
 *
 * Prints the figures issue 18 asks for (writes acknowledged, lost, duplicated,
 * time from the database's return to the first 201) as test comments:
 *   npm test -- test/outage.test.ts
 */
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createDatabase } from '../src/db/database.ts'
import { ensureDatabase, startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.ts'
import { migrate } from '../src/db/migrate.ts'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { LISTENER_APPLICATION_NAME } from '../src/relay/listener.ts'
import { freePort } from './helpers/net.ts'
import { startReceiver } from './helpers/receiver.ts'
import { spawnRelay } from './helpers/relay-process.ts'
import { openStream } from './helpers/sse.ts'
import { waitFor } from './helpers/wait.ts'

const TENANT = '22222222-2222-2222-2222-222222222222'
/** the longest a client waits for an answer: a request still open after this has hung */
const REQUEST_TIMEOUT_MS = 10_000

// every process of this file: short timeouts, so an outage is felt (and survived) in seconds
const ENV = {
  NODE_ENV: 'test',
  SECRETS_KEY: randomBytes(32).toString('base64'),
  DATABASE_CONNECT_TIMEOUT_MS: '1000',
  DATABASE_RETRY_MAX_MS: '500',
  RELAY_POLL_INTERVAL_MS: '200',
  RELAY_CONCURRENCY: '10',
  WEBHOOK_TIMEOUT_MS: '1000',
  WEBHOOK_RETRY_BASE_MS: '50',
  // a claim lasts 3.5 s: deliveries of a relay that could not record them are soon claimable
  // again, and a relay slowed by a busy machine (not a crash) still records before its lease ends
  RELAY_LEASE_MARGIN_MS: '2500',
  RATE_LIMIT_PER_MINUTE: '0',
}

/** One PostgreSQL data directory for the file (initdb once), started and killed at will. */
const cluster = await (async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-outage-'))
  await fs.chmod(dir, 0o755)
  const dataDir = path.join(dir, 'pg')
  const port = await freePort()
  let server: EmbeddedPostgres | undefined
  t.teardown(async () => {
    await server?.stop()
    await fs.rm(dir, { recursive: true, force: true })
  })
  return {
    port,
    /** starts the server on its port; after a SIGKILL the old backends may hold on for a moment */
    async start(): Promise<EmbeddedPostgres> {
      return waitFor(async () => (server = await startEmbeddedPostgres({ dir: dataDir, port })), {
        timeoutMs: 30_000,
        intervalMs: 200,
        message: 'PostgreSQL started on its port',
      })
    },
    async crash(signal: 'SIGQUIT' | 'SIGKILL'): Promise<void> {
      const pid = Number((await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
      process.kill(pid, signal)
      // down: nothing answers on the port any more
      await waitFor(async () => !(await reachable(port)), { message: `PostgreSQL down after ${signal}` })
    },
    async stop(): Promise<void> {
      await server?.stop()
      server = undefined
    },
  }
})()

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** A real API process (`npm start`'s command), RELAY=off, AUTH=required. */
async function spawnApi(t: Test, databaseUrl: string) {
  const port = await freePort()
  const pkg = JSON.parse(await fs.readFile('package.json', 'utf8'))
  // `exec node --import tsx src/cli/start.ts`: what follows `node`
  const words = pkg.scripts.start.split(' ')
  const args = words.slice(words.indexOf('node') + 1)
  const child: ChildProcess = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], {
    env: { ...process.env, ...ENV, DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', RELAY: 'off', AUTH: 'required', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (c) => (out += c))
  child.stderr?.on('data', (c) => (out += c))
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  t.teardown(() => {
    if (!t.passing()) t.comment(`API output:\n${out.slice(-4000)}`)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return exited.then(() => {})
  })
  const url = `http://127.0.0.1:${port}`
  return {
    child,
    exited,
    output: () => out,
    url,
    async request(method: string, route: string, key?: string, body?: unknown) {
      const res = await fetch(url + route, {
        method,
        headers: { ...(key && { authorization: `Bearer ${key}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      })
      const text = await res.text()
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers }
    },
  }
}

/** Keys made straight in the (migrated) database: a store's admin key and an operator key. */
async function makeKeys(url: string) {
  const handle = createDatabase(url, 1)
  try {
    await migrate(handle.db)
    const store = await createApiKey(handle.db, TENANT, { admin: true })
    const operator = await createApiKey(handle.db, TENANT, { operator: true })
    return { store: store.key, operator: operator.key }
  } finally {
    await handle.destroy()
  }
}

const exitedEarly = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

t.test('an API and two relays started while PostgreSQL is down wait for it; then it crashes under load (SIGQUIT, then SIGKILL of the postmaster): no process dies, writes are 503 then 201, nothing acknowledged is lost', async (t) => {
  // a database made (not migrated) while the server ran; then the server stops
  let server = await cluster.start()
  const url = await ensureDatabase(server.adminUrl, 'outage')
  await cluster.stop()

  // --- started while the database is down
  const api = await spawnApi(t, url)
  const relays = [spawnRelay(t, url, ENV), spawnRelay(t, url, ENV)]
  const processes = () => [api.child, ...relays.map((r) => r.child)]
  await waitFor(async () => (await api.request('GET', '/health').catch(() => undefined))?.status === 200, { timeoutMs: 90_000, message: 'the API answers' })
  await waitFor(() => relays.every((r) => (r.output().match(/waiting for the database/g) ?? []).length >= 3), { timeoutMs: 60_000, message: 'the relays keep trying' })

  const live = await api.request('GET', '/health')
  t.match(live.body, { status: 'ok', database: { status: 'waiting' } }, '/health: alive, waiting for the database')
  t.notMatch(JSON.stringify(live.body), /ECONN|127\.0\.0\.1|postgres/i, 'and no internals to an anonymous probe')
  const notReady = await api.request('GET', '/health/ready')
  t.equal(notReady.status, 503, '/health/ready: not ready')
  t.ok(notReady.headers.get('retry-after'))
  t.match(await api.request('POST', '/api/products', 'bcs_whatever', { name: 'too early' }), { status: 503, body: { code: 'SERVICE_UNAVAILABLE' } }, 'a write while waiting: 503')
  // one warn line per attempt, with the reason, no stack trace
  const waiting = relays[0]!.output().split('\n').filter((l) => l.includes('waiting for the database')).map((l) => JSON.parse(l))
  t.ok(waiting.every((l) => l.level === 40 && /ECONNREFUSED/.test(l.error) && l.attempt > 0 && l.retryInMs <= Number(ENV.DATABASE_RETRY_MAX_MS)), 'warn, with the reason and the next delay')
  t.notMatch(relays[0]!.output(), /^\s+at /m, 'no stack trace')
  t.same(processes().filter(exitedEarly), [], 'no process gave up')

  server = await cluster.start()
  const up = Date.now()
  await waitFor(async () => (await api.request('GET', '/health/ready')).status === 200, { timeoutMs: 60_000, message: 'the API becomes ready' })
  await Promise.all(relays.map((r) => r.ready()))
  t.comment(`started while down: ready ${Date.now() - up} ms after the database came up`)
  const keys = await makeKeys(url)
  const receiver = await startReceiver(t, 200)
  const created = await api.request('POST', '/api/plugins', keys.store, { name: 'S', slug: 's', webhook_url: receiver.url, events: ['product.created'] })
  t.equal(created.status, 201)

  // state for anyone, details for an operator key only
  const anonymous = await api.request('GET', '/health')
  t.same(Object.keys(anonymous.body.database), ['status'], 'anonymous: the state only')
  t.notOk(anonymous.body.backlog)
  const store = await api.request('GET', '/health', keys.store)
  t.same(Object.keys(store.body.database), ['status'], "a store's key: the state only")
  const operator = await api.request('GET', '/health', keys.operator)
  t.match(operator.body, { database: { status: 'up', latency_ms: Number }, backlog: { due: Number } }, 'an operator key: the details')

  // a live stream open through it all: its LISTEN connection is cut with the others
  const streamUrl = `${api.url}/api/plugins/events/stream`
  await openStream(t, streamUrl, { authorization: `Bearer ${keys.store}` })

  // --- under load: four clients writing back to back, each answer recorded with the time it came
  const answers: { status: number | 'timeout' | 'error'; at: number; id?: string; ms: number }[] = []
  const acknowledged = new Set<string>()
  const badRefusals: unknown[] = []
  let writing = true
  t.teardown(() => void (writing = false))
  let n = 0
  const writers = Array.from({ length: 4 }, async () => {
    while (writing) {
      const started = Date.now()
      try {
        const res = await api.request('POST', '/api/products', keys.store, { name: `p${n++}` })
        answers.push({ status: res.status, at: Date.now(), id: res.body?.id, ms: Date.now() - started })
        if (res.status === 201) acknowledged.add(res.body.id)
        if (res.status === 503) {
          if (res.body?.code !== 'SERVICE_UNAVAILABLE' || !res.headers.get('retry-after')) badRefusals.push(res.body)
          // what a client does on a 503: wait as told (shortened here), then try again
          await sleep(100)
        }
      } catch (error) {
        answers.push({ status: (error as Error).name === 'TimeoutError' ? 'timeout' : 'error', at: Date.now(), ms: Date.now() - started })
        await sleep(100)
      }
      await sleep(10)
    }
  })
  const since = (at: number) => answers.filter((a) => a.at > at)

  const crashes: { signal: string; at: number; back: number; firstCreated: number; refused: number }[] = []
  for (const signal of ['SIGQUIT', 'SIGKILL'] as const) {
    // load first: writes acknowledged and deliveries going out
    const before = acknowledged.size
    await waitFor(() => acknowledged.size >= before + 30 && receiver.received.length > 0, { timeoutMs: 30_000, message: 'writes and deliveries under way' })
    const at = Date.now()
    await cluster.crash(signal)
    // the outage, felt: writes refused (never hung) while down
    await waitFor(() => since(at).filter((a) => a.status === 503).length >= 8 || processes().some(exitedEarly), {
      timeoutMs: 20_000,
      message: 'writes refused while the database is down',
    })
    t.same(processes().filter(exitedEarly), [], `${signal}: no process died of it`)
    server = await cluster.start()
    const back = Date.now()
    const first = await waitFor(() => since(back).find((a) => a.status === 201), { timeoutMs: 20_000, message: 'a write acknowledged after the return' })
    crashes.push({ signal, at, back, firstCreated: first.at - back, refused: since(at).filter((a) => a.status === 503 && a.at < first.at).length })
    t.comment(`${signal}: database back ${back - at} ms after the crash; first 201 ${first.at - back} ms after its return`)
  }
  // a little more load after the second return, then stop writing
  const settled = acknowledged.size
  await waitFor(() => acknowledged.size >= settled + 20, { timeoutMs: 30_000, message: 'writes after the last return' })
  writing = false
  await Promise.all(writers)
  t.same(processes().filter(exitedEarly), [], 'no process died')

  // the live stream's link to the database is back: a new write shows on a stream
  const stream = await openStream(t, streamUrl, { authorization: `Bearer ${keys.store}` })
  const last = await api.request('POST', '/api/products', keys.store, { name: 'after it all' })
  t.equal(last.status, 201)
  acknowledged.add(last.body.id)
  await stream.waitFor((events) => events.some((e) => e.event === 'created'), 'the live stream shows a delivery created after the outage')

  // every acknowledged write delivered
  const deliveredIds = () => new Set(receiver.received.map((r) => r.json?.data?.product_id))
  await waitFor(() => [...acknowledged].every((id) => deliveredIds().has(id)), { timeoutMs: 30_000, message: 'every acknowledged write delivered' }).catch(
    (error) => {
      const lost = [...acknowledged].filter((id) => !deliveredIds().has(id))
      throw new Error(`${error.message}: ${lost.length} of ${acknowledged.size} not delivered`)
    },
  )

  // one LISTEN connection per relay: none left behind by the attempts made while the database was down
  const probe = createDatabase(url, 1)
  t.teardown(() => probe.destroy())
  const listeners = async () =>
    (await probe.pool.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where application_name = $1', [LISTENER_APPLICATION_NAME])).rows[0]!.n
  await waitFor(async () => (await listeners()) === relays.length, { message: 'one listener per relay' }).catch(async (error) => {
    throw new Error(`${error.message}: ${await listeners()} listener connections`)
  })

  const statuses = new Map<string, number>()
  for (const a of answers) statuses.set(String(a.status), (statuses.get(String(a.status)) ?? 0) + 1)
  t.same([...statuses.keys()].filter((s) => s !== '201' && s !== '503'), [], `only 201 and 503 answered: ${JSON.stringify(Object.fromEntries(statuses))}`)
  const slowest = Math.max(...answers.map((a) => a.ms))
  t.ok(slowest < REQUEST_TIMEOUT_MS, `no write hung: the slowest answer took ${slowest} ms`)
  t.same(badRefusals, [], 'every 503 is SERVICE_UNAVAILABLE with Retry-After')
  for (const c of crashes) t.ok(c.refused > 0, `${c.signal}: ${c.refused} writes answered 503 during the outage`)

  // duplicates: only deliveries whose first POST was in flight when the database went away
  const byId = new Map<string, number[]>()
  for (const r of receiver.received) {
    const id = String(r.headers['webhook-id'])
    byId.set(id, [...(byId.get(id) ?? []), r.at])
  }
  const duplicated = [...byId].filter(([, times]) => times.length > 1)
  const duplicates = duplicated.reduce((sum, [, times]) => sum + times.length - 1, 0)
  const inFlightAtACrash = (first: number) => crashes.some((c) => first <= c.at + Number(ENV.WEBHOOK_TIMEOUT_MS) && first >= c.at - 5000)
  t.same(
    duplicated.filter(([, times]) => !inFlightAtACrash(times[0]!)).map(([id]) => id),
    [],
    'every duplicate was first sent around a crash',
  )
  const inFlightBound = crashes.length * relays.length * Number(ENV.RELAY_CONCURRENCY)
  t.ok(duplicates <= inFlightBound, `${duplicates} duplicates, at most ${inFlightBound} could have been in flight`)

  const acked = acknowledged.size
  const lost = [...acknowledged].filter((id) => !deliveredIds().has(id)).length
  t.equal(lost, 0, 'no acknowledged write lost')
  t.comment(
    `writes acknowledged ${acked}, lost ${lost}, duplicated deliveries ${duplicates}, answers ${JSON.stringify(Object.fromEntries(statuses))}, ` +
      crashes.map((c) => `${c.signal}: first 201 ${c.firstCreated} ms after the database's return`).join('; '),
  )

  // and they all stop as asked, after all that
  for (const child of processes()) child.kill('SIGTERM')
  t.same(await Promise.all([api.exited, ...relays.map((r) => r.exited)]), [0, 0, 0], 'each exits 0 on SIGTERM')
  await cluster.stop()
})

t.test('what waiting cannot cure ends the process at once, non-zero, with one line saying why', async (t) => {
  const server = await cluster.start()
  t.teardown(() => cluster.stop())
  const wrongPassword = new URL(server.adminUrl)
  wrongPassword.password = 'wrong'
  const missing = new URL(server.adminUrl)
  missing.pathname = '/no_such_database'
  const cases = [
    ['bad credentials', wrongPassword.toString(), /password authentication failed/],
    ['a missing database', missing.toString(), /database "no_such_database" does not exist/],
  ] as const
  const relays = cases.map(([, url]) => spawnRelay(t, url, ENV))
  for (const [i, [name, , reason]] of cases.entries()) {
    t.equal(await relays[i]!.exited, 1, `${name}: exit 1`)
    t.match(relays[i]!.output(), reason, `${name}: says why`)
    t.notMatch(relays[i]!.output(), /waiting for the database/, `${name}: not retried`)
  }
})
