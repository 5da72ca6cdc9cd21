/**
 * The client ceiling: BENCH_COUNT POSTs of a real event body to BENCH_URL by a bare
 * loop of the relay's own HTTP client, RELAY_CONCURRENCY at a time, no database.
 * Headers are the relay's (signed once, not per request: signing is the relay's
 * work, and it is charged to the relay). Prints one JSON line: {count, ok, ms, window, cpuMs, errors}.
 */
import fs from 'node:fs/promises'
import { loadConfig } from '../src/config.ts'
import { signedWebhookHeaders } from '../src/relay/headers.ts'
import { generateSecret, parseSecret } from '../src/webhooks/signature.ts'
import { relayClient } from './client.ts'
import { monoMs } from './stats.ts'

const config = loadConfig()
const count = Number(process.env.BENCH_COUNT)
const url = process.env.BENCH_URL ?? ''
const body = await fs.readFile(process.env.BENCH_BODY_FILE ?? '', 'utf8')
const client = relayClient(config)
const headers = signedWebhookHeaders(0, 'product.created', [parseSecret(generateSecret())], body)
headers['webhook-id'] = 'ceiling'

let started = 0
let ok = 0
const errors = new Map<string, number>()
const worker = async () => {
  while (started < count) {
    started++
    const outcome = await client.post(url, headers, body)
    if (outcome.ok) ok++
    else errors.set(outcome.error ?? '?', (errors.get(outcome.error ?? '?') ?? 0) + 1)
  }
}
const cpu0 = process.cpuUsage()
const t0 = monoMs()
await Promise.all(Array.from({ length: config.RELAY_CONCURRENCY }, worker))
const t1 = monoMs()
const cpu = process.cpuUsage(cpu0)
client.close()
process.stdout.write(`${JSON.stringify({ count, ok, ms: t1 - t0, window: [t0, t1], cpuMs: (cpu.user + cpu.system) / 1000, errors: Object.fromEntries(errors) })}\n`)
