import t from 'tap'
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { freePort } from './helpers/net.ts'
import { waitFor } from './helpers/wait.ts'

/**
 * The two-command start: with no DATABASE_URL, `npm start` brings up its own
 * PostgreSQL in DATA_DIR, migrates it, serves the API and the relay, and on
 * SIGTERM stops everything and exits 0. The data survives a restart, and the
 * service survives its PostgreSQL being killed (and starts it again).
 */
t.test('the npm start command runs on an embedded PostgreSQL, keeps data across restarts, and stops cleanly', async (t) => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-start-'))
  await fs.chmod(dataDir, 0o755)
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const pgPort = await freePort()

  // exactly what `npm start` runs, without npm in between (npm does not wait for its child on SIGTERM)
  const pkg = JSON.parse(await fs.readFile('package.json', 'utf8'))
  const [command, ...args] = pkg.scripts.start.split(' ')
  t.equal(command, 'node')

  async function start() {
    const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], {
      env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', EMBEDDED_PG_PORT: String(pgPort), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: false,
    })
    let out = ''
    child.stdout.on('data', (c) => (out += c))
    child.stderr.on('data', (c) => (out += c))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, { timeoutMs: 60_000, message: 'the server is ready' }).catch((error) => {
      throw new Error(`${error.message}; server output: ${out.slice(-1500)}`)
    })
    return { child, exited, output: () => out }
  }

  const first = await start()
  const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json()
  t.match(health, { status: 'ok', database: { status: 'up' }, relay: { state: 'running' } })
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

  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0)
  t.match(first.output(), /embedded PostgreSQL ready/)
  await t.rejects(fetch(`http://127.0.0.1:${port}/health`), 'the API is down')
  await waitFor(async () => !(await fs.stat(path.join(dataDir, 'pg', 'postmaster.pid')).catch(() => false)), { message: 'PostgreSQL stopped' })

  const second = await start()
  const list = await (await fetch(`http://127.0.0.1:${port}/api/products`)).json()
  t.same(list.products.map((p: { name: string }) => p.name).sort(), ['After the crash', 'Persistent'], 'the data survived the restarts')
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
})
