import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { testDatabase } from './helpers/db.ts'
import { freePort } from './helpers/net.ts'
import { waitFor } from './helpers/wait.ts'

/**
 * `npm start`, exactly as the README says, as a process manager or a terminal
 * runs it: the signal goes to the npm process itself (and, from a terminal, to
 * the server as well), and npm must pass it on.
 * tap's loader is taken out of NODE_OPTIONS so the server starts as it does
 * for a person.
 */
function npmStart(t: Test, env: Record<string, string>) {
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', 'npm', 'start'], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // a process group of its own, as a terminal gives a command: Ctrl-C reaches npm and the server alike,
    // and the teardown can kill the server too, not only npm
    detached: true,
  })
  let out = ''
  child.stdout.on('data', (c) => (out += c))
  child.stderr.on('data', (c) => (out += c))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // the group has exited already
    }
  })
  return { child, exited, output: () => out, ctrlC: () => process.kill(-child.pid!, 'SIGINT') }
}

async function answers(url: string): Promise<boolean> {
  return (await fetch(url)).ok
}

async function started(server: ReturnType<typeof npmStart>, url: string): Promise<void> {
  await waitFor(() => answers(url), { timeoutMs: 90_000, message: 'the server answers' }).catch((error: Error) => {
    throw new Error(`${error.message}; server output: ${server.output().slice(-1500)}`)
  })
}

/** Whether something accepts TCP connections on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/**
 * The two-command start: with no DATABASE_URL, `npm start` brings up its own
 * PostgreSQL in DATA_DIR, migrates it, serves the API and the relay, and on
 * SIGINT or SIGTERM sent to npm stops everything and exits 0. The data survives a
 * restart, and the service survives its PostgreSQL being killed (and starts it again).
 */
t.test('npm start runs on an embedded PostgreSQL, keeps data across restarts, and stops gracefully when npm is signalled', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-start-'))
  await fs.chmod(dataDir, 0o755)
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const pgPort = await freePort()
  const env = { DATABASE_URL: '', DATA_DIR: dataDir, PORT: String(port), HOST: '', AUTH: '', EMBEDDED_PG_PORT: String(pgPort) }

  const first = npmStart(t, env)
  await started(first, `http://127.0.0.1:${port}/health/ready`)
  const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json()
  t.match(health, { status: 'ok', auth: 'off', database: { status: 'up' }, relay: { state: 'running' } })
  const created = await fetch(`http://127.0.0.1:${port}/api/products`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Persistent' }),
  })
  t.equal(created.status, 201)

  // its PostgreSQL killed under it: the service lives on, starts it again, and serves
  const postmaster = Number((await fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0])
  process.kill(postmaster, 'SIGKILL')
  await waitFor(() => /embedded PostgreSQL started again/.test(first.output()), { timeoutMs: 60_000, message: 'PostgreSQL started again' })
  const again = await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/products`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'After the crash' }) })
      return res.status === 201 ? res : undefined
    },
    { timeoutMs: 20_000, message: 'a write after the restart' },
  )
  t.equal(again.status, 201, 'a write after its database was killed and started again')
  t.equal(first.child.exitCode, null, 'the service did not die with its database')

  // Ctrl-C in a terminal: SIGINT to npm and the server at once, and npm passes it on once more
  first.ctrlC()
  t.equal(await first.exited, 0, 'Ctrl-C: exits 0')
  t.match(first.output(), /embedded PostgreSQL ready/)
  t.match(first.output(), /"signal":"SIGINT".*shutting down/)
  t.notMatch(first.output(), /second signal/, 'the signal delivered twice is one request to stop')
  await t.rejects(fetch(`http://127.0.0.1:${port}/health`), 'the API is down')
  await waitFor(async () => !(await fs.stat(path.join(dataDir, 'pg', 'postmaster.pid')).catch(() => false)), { message: 'PostgreSQL stopped' })

  const second = npmStart(t, env)
  await started(second, `http://127.0.0.1:${port}/health/ready`)
  const list = await (await fetch(`http://127.0.0.1:${port}/api/products`)).json()
  t.same(list.products.map((p: { name: string }) => p.name).sort(), ['After the crash', 'Persistent'], 'the data survived the restarts')
  // a process manager: SIGTERM to the npm process alone
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0, 'SIGTERM to npm: exits 0')
  t.match(second.output(), /"signal":"SIGTERM".*shutting down/)
  await waitFor(async () => !(await fs.stat(path.join(dataDir, 'pg', 'postmaster.pid')).catch(() => false)), { message: 'PostgreSQL stopped' })
})

t.test('with AUTH=off and no HOST, the server listens on 127.0.0.1 only; a port in use is named with PORT as the way out', async (t) => {
  const database = await testDatabase(t)
  const port = await freePort()
  const server = npmStart(t, { DATABASE_URL: database.url, PORT: String(port), HOST: '', AUTH: 'off', RELAY: 'off' })
  await started(server, `http://127.0.0.1:${port}/health/ready`)
  // 127.0.0.2 is this machine too, but not the address the server is bound to
  t.equal(await accepts('127.0.0.2', port), false, 'not reachable on any other address')
  t.notMatch(server.output(), /AUTH=off with HOST/, 'no warning')

  const clash = npmStart(t, { DATABASE_URL: database.url, PORT: String(port), HOST: '', AUTH: 'off', RELAY: 'off' })
  t.equal(await clash.exited, 1, 'a second server on the same port exits 1')
  t.match(clash.output(), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use .*PORT=<n>`))
  t.notMatch(clash.output(), /\n\s+at /, 'one line, no stack trace')

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})

t.test('AUTH=off with a HOST beyond loopback listens there, and warns plainly', async (t) => {
  const database = await testDatabase(t)
  const port = await freePort()
  const server = npmStart(t, { DATABASE_URL: database.url, PORT: String(port), HOST: '0.0.0.0', AUTH: 'off', RELAY: 'off' })
  await started(server, `http://127.0.0.2:${port}/health/ready`)
  t.ok(await accepts('127.0.0.1', port), 'bound to every interface')
  t.match(server.output(), /"level":40.*AUTH=off with HOST=0\.0\.0\.0: anyone who can reach this machine can use the API without a key/)
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})
