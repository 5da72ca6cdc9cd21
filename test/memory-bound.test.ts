import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { testDatabase } from './helpers/db.ts'
import { freePort } from './helpers/net.ts'
import { waitFor } from './helpers/wait.ts'

/** Peak resident memory of a process so far (VmHWM), in MiB. */
async function peakMiB(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)![1]) / 1024
}

const PLUGINS = 200
/** The review's bound: one request took the process from 189 MB to 855 MB. This is a fraction of that. */
const MAX_GROWTH_MIB = 64

/**
 * The review's attack, on a real server process: 200 paused plugins with the
 * largest config allowed, and products as large as a request body allows, so that
 * each event log page could hold hundreds of MB and the plugin list tens. Six of
 * the worst requests at once must leave the process's peak memory within bounds.
 */
t.test('the worst-case list requests, six at once, keep the server within a memory bound', async (t) => {
  const database = await testDatabase(t)
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-memory-'))
  t.teardown(() => fs.rm(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', 'src/cli/start.ts'], {
    env: { ...process.env, DATABASE_URL: database.url, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'test', RELAY: 'off', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (c) => (out += c))
  child.stderr.on('data', (c) => (out += c))
  const exited = new Promise((resolve) => child.on('exit', resolve))
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await exited
  })
  await waitFor(async () => (await fetch(`${base}/health/ready`).catch(() => null))?.ok === true, { timeoutMs: 30_000, message: 'the server to answer' }).catch(
    (error: Error) => {
      throw new Error(`${error.message}; output: ${out.slice(-1500)}`)
    },
  )
  const post = async (url: string, body: unknown) => {
    const res = await fetch(base + url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    if (res.status !== 201) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  }

  // config and metadata of 15 KiB each (the most allowed is 16): 6 MB of plugin list unpaged
  const blob = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'x'.repeat(1000)]))
  for (let i = 0; i < PLUGINS; i++) {
    await post('/api/plugins', {
      name: `P${i}`,
      slug: `p${i}`,
      webhook_url: 'https://hooks.example.com/x',
      events: ['product.created'],
      status: 'paused',
      config: blob(15),
      metadata: blob(15),
    })
  }
  // 30 products of ~600 KB (18 MB a product page), then two of ~60 KB (under the inline size, so an events page fills to its byte budget)
  const list = (n: number) => Array.from({ length: n }, (_, i) => `${i}`.padEnd(2000, 'y'))
  for (const n of [...Array<number>(30).fill(100), 10, 10]) await post('/api/products', { name: `Big ${n}`, tags: list(n), images: list(n), collections: list(n) })

  const worst = [
    ...Array<string>(2).fill('/api/plugins/events?limit=500'),
    ...Array<string>(2).fill('/api/plugins?limit=500'),
    ...Array<string>(2).fill('/api/products?limit=500'),
  ]
  // the peak before any list was asked for; one of each first (what a single request costs), then six at once
  const before = await peakMiB(child.pid!)
  for (const url of new Set(worst)) await (await fetch(base + url)).arrayBuffer()
  const sizes = await Promise.all(
    worst.map(async (url) => {
      const res = await fetch(base + url)
      t.equal(res.status, 200, url)
      return (await res.arrayBuffer()).byteLength
    }),
  )
  const after = await peakMiB(child.pid!)
  t.comment(`peak RSS ${before.toFixed(0)} MiB → ${after.toFixed(0)} MiB; responses ${sizes.map((s) => `${(s / 1024).toFixed(0)} KiB`).join(', ')}`)
  t.ok(after - before < MAX_GROWTH_MIB, `peak memory grew ${(after - before).toFixed(0)} MiB (< ${MAX_GROWTH_MIB})`)
  for (const size of sizes) t.ok(size < 2 * 1024 * 1024, `a response is ${(size / 1024).toFixed(0)} KiB: about MAX_LIST_RESPONSE_BYTES (1 MiB) at most`)

  // and another tenant's request is not held up behind them (the review saw 0.08 s become 3.2 s): it answers
  const other = await fetch(`${base}/api/event-types`)
  t.equal(other.status, 200)
})
