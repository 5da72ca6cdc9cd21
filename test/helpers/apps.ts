import { execFile } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { createDeveloper } from '../../src/apps/developer.repository.ts'
import { createApiKey } from '../../src/keys/api-key.repository.ts'
import type { TestApp } from './app.ts'
import type { TestDatabase } from './db.ts'

const execute = promisify(execFile)

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
export const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` })

/** `bin/admin …` as an operator runs it (tap's loader taken out of NODE_OPTIONS, as in auth.test.ts). */
export async function admin(database: TestDatabase, ...args: string[]) {
  return execute('/usr/bin/env', ['-u', 'NODE_OPTIONS', path.resolve('bin/admin'), ...args], {
    env: { ...process.env, DATABASE_URL: database.url, NODE_ENV: 'test' },
  })
}

export async function developerKey(app: TestApp, name = 'Acme Apps'): Promise<string> {
  return (await createDeveloper(app.database.db, name)).key
}

export async function storeKey(app: TestApp, tenantId: string, isAdmin = true): Promise<string> {
  return (await createApiKey(app.database.db, tenantId, { admin: isAdmin })).key
}

/** A manifest that passes every check; override what a test is about. */
export function manifest(webhookUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    name: 'Inventory sync',
    tagline: 'Keeps your warehouse and your store in step',
    description: '# Inventory sync\n\nSyncs stock **every minute**. [Docs](https://sync.example/docs)',
    categories: ['inventory'],
    version: '1.0.0',
    webhook_url: webhookUrl,
    events: ['product.created'],
    permissions: [{ permission: 'products:read', purpose: 'Read your products to match them with warehouse items' }],
    config_schema: {
      type: 'object',
      properties: {
        warehouse: { type: 'string', default: 'main', maxLength: 40 },
        threshold: { type: 'integer', minimum: 0, maximum: 1000, default: 5 },
        api_key: { type: 'string', minLength: 8, writeOnly: true, description: 'Your warehouse API key' },
      },
      required: ['api_key'],
      additionalProperties: false,
    },
    listed: true,
    ...overrides,
  }
}

export interface Delivery {
  headers: http.IncomingHttpHeaders
  body: string
  json: any
}

/** A real HTTP server on 127.0.0.1 playing an app: records deliveries and runs `onDelivery` after answering 200. */
export async function startAppServer(t: Test, onDelivery: (delivery: Delivery) => Promise<void> | void = () => {}) {
  const deliveries: Delivery[] = []
  const errors: unknown[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json: unknown
      try {
        json = JSON.parse(body)
      } catch {}
      const delivery = { headers: req.headers, body, json }
      res.writeHead(200).end()
      Promise.resolve(onDelivery(delivery))
        .catch((error: unknown) => errors.push(error))
        .finally(() => deliveries.push(delivery))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`, deliveries, errors }
}
