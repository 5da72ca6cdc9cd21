/**
 * The peer: graphile-worker (0.16, the release for Node 20) doing the relay's job
 * for each queued job: sign, POST with the relay's own HTTP client, complete. Same
 * sink, same client, same concurrency (RELAY_CONCURRENCY); a pool big enough for
 * that concurrency (graphile-worker warns below it). Stops on SIGTERM.
 */
import { run, type Task } from 'graphile-worker'
import { loadConfig } from '../src/config.ts'
import { signedWebhookHeaders } from '../src/relay/headers.ts'
import { generateSecret, parseSecret } from '../src/webhooks/signature.ts'
import { relayClient } from './client.ts'
import { quietGraphileLogger } from './graphile-logger.ts'

interface Job {
  id: number
  type: string
  url: string
  body: string
}

const config = loadConfig()
const client = relayClient(config)
// our relay signs with keys decrypted once and cached; the peer gets its key once too
const keys = [parseSecret(generateSecret())]

const deliver: Task = async (payload) => {
  const job = payload as Job
  const outcome = await client.post(job.url, signedWebhookHeaders(job.id, job.type, keys, job.body), job.body)
  // a failure is retried by graphile-worker, as our relay retries
  if (!outcome.ok) throw new Error(outcome.error ?? 'failed')
}

const runner = await run({
  connectionString: config.DATABASE_URL,
  concurrency: config.RELAY_CONCURRENCY,
  maxPoolSize: config.RELAY_CONCURRENCY + 2,
  noHandleSignals: true,
  pollInterval: config.RELAY_POLL_INTERVAL_MS,
  logger: quietGraphileLogger(),
  taskList: { deliver },
})
process.once('SIGTERM', () => {
  runner.stop().then(
    () => {
      client.close()
      process.exit(0)
    },
    () => process.exit(1),
  )
})
await runner.promise
