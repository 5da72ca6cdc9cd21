// Dev receiver: a local endpoint that verifies and prints deliveries, so the
// whole signing path can be watched without writing a plugin first.
// Uses only the published SDK, exactly as a plugin author would.

import { createServer, type Server } from 'node:http'
import { parseArgs } from 'node:util'
import { verifyWebhook, WebhookVerificationError } from '../receiver/index.ts'

export interface ReceiverOptions {
  secrets: string[]
  log?: (line: string) => void
}

// Deliveries are at-least-once; remembering recent ids shows retries as
// duplicates. Bounded so a long-running receiver does not grow forever.
const MAX_SEEN = 10_000

export function createReceiverServer({ secrets, log = console.log }: ReceiverOptions): Server {
  const seen = new Set<string>()
  return createServer(async (req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end()
      return
    }
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    try {
      const event = verifyWebhook(secrets, req.headers, Buffer.concat(chunks))
      // Verified, so the header is present.
      const id = String(req.headers['webhook-id'])
      if (seen.has(id)) {
        log(`↺ duplicate ${id} (already processed, answering 200)`)
        res.writeHead(200).end()
        return
      }
      seen.add(id)
      if (seen.size > MAX_SEEN) seen.delete(seen.values().next().value as string)
      log(`✔ ${event.event} ${id}\n${JSON.stringify(event.data, null, 2)}`)
      res.writeHead(204).end()
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) {
        log(`✘ internal error: ${String(err)}`)
        res.writeHead(500).end()
        return
      }
      log(`✘ ${err.reason}: ${err.message}`)
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.reason }))
    }
  })
}

/** Entry point for bin/receiver. */
export async function main(argv = process.argv.slice(2), env = process.env): Promise<Server> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, secret: { type: 'string', multiple: true } },
  })
  const secrets = (values.secret ?? (env.WEBHOOK_SECRET ?? '').split(','))
    .map((s) => s.trim())
    .filter(Boolean)
  if (secrets.length === 0) {
    throw new Error('no secret: pass --secret whsec_... (repeatable) or set WEBHOOK_SECRET (comma separated)')
  }
  // verifyWebhook checks secrets before anything else, so an empty request
  // reveals a bad secret now rather than as a 400 on every delivery.
  try {
    verifyWebhook(secrets, {}, '')
  } catch (err) {
    if (err instanceof WebhookVerificationError && err.reason === 'invalid_secret') throw err
  }
  const port = Number(values.port ?? env.PORT ?? 4000)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${values.port ?? env.PORT}`)
  const server = createReceiverServer({ secrets })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(port, '127.0.0.1', resolve)
  })
  console.log(`receiver listening on http://127.0.0.1:${port} with ${secrets.length} secret(s)`)
  return server
}
