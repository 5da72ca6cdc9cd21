import net from 'node:net'
import { Writable } from 'node:stream'
import t from 'tap'
import { createApiKey } from '../src/keys/api-key.repository.ts'
import { createLogger } from '../src/logger.ts'
import { startService } from '../src/service.ts'
import { testConfig } from './helpers/app.ts'
import { testDatabase } from './helpers/db.ts'
import { waitFor } from './helpers/wait.ts'

const TENANT = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'

/** Sends raw bytes and reads until the server closes the connection. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(bytes))
    let answer = ''
    socket.on('data', (chunk) => (answer += String(chunk)))
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
  })
}

t.test('at LOG_LEVEL=debug no header that holds a key reaches the log, err.rawPacket included', async (t) => {
  const database = await testDatabase(t)
  const config = testConfig(database, { RELAY: 'off', AUTH: 'required', LOG_LEVEL: 'debug' })
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    },
  })
  const service = await startService(config, createLogger(config, { destination: sink }))
  t.teardown(() => service.stop())
  const port = (service.app.server.address() as net.AddressInfo).port
  const { key } = await createApiKey(database.db, TENANT, { admin: true })
  const secretPart = key.slice(15)

  // a request Node cannot parse (a bad header line after the credentials): Fastify's
  // clientErrorHandler logs the error, whose rawPacket holds the request as sent
  const answer = await rawRequest(
    port,
    `GET /api/plugins HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nCookie: session=${secretPart}\r\n` +
      `X-Api-Key: ${key}\r\nProxy-Authorization: Basic ${secretPart}\r\nBroken header line\r\n\r\n`,
  )
  t.match(answer, /^HTTP\/1\.1 400 Bad Request/, 'the malformed request is refused')
  await waitFor(() => lines.some((l) => l.includes('"client error"')), { message: 'the client error to be logged' })
  const clientError = JSON.parse(lines.find((l) => l.includes('"client error"'))!)
  t.equal(clientError.err.rawPacket, '[redacted]', 'the raw request bytes are redacted as a whole')

  // errors and objects that carry header sets where handlers or HTTP clients put them
  const headers = { authorization: `Bearer ${key}`, cookie: `s=${secretPart}`, 'x-api-key': key, 'proxy-authorization': secretPart }
  service.app.log.error(
    { err: Object.assign(new Error('upstream'), { options: { headers }, response: { headers: { 'set-cookie': secretPart } } }) },
    'an HTTP client error',
  )
  service.app.log.info({ req: { headers }, headers, request: { headers } }, 'header sets')

  const log = lines.join('\n')
  for (const [what, text] of [
    ['the key', key],
    ['the secret part of the key', secretPart],
    ['the key as Buffer bytes', JSON.stringify([...Buffer.from(secretPart).subarray(0, 8)]).slice(1, -1)],
  ] as const) {
    t.notOk(log.includes(text), `the log does not contain ${what}`)
  }
  t.match(log, /"options":\{"headers":\{"authorization":"\[redacted\]","cookie":"\[redacted\]","x-api-key":"\[redacted\]","proxy-authorization":"\[redacted\]"\}\}/)
})
