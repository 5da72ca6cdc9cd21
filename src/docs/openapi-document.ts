import pino from 'pino'
import { buildApp } from '../app.ts'
import { loadConfig } from '../config.ts'
import { createDatabase } from '../db/database.ts'
import type { AppContext } from '../http/context.ts'

/** The OpenAPI document as its parts are typed here: what the generators read. */
export interface OpenApiDocument {
  openapi: string
  paths: Record<string, Record<string, OpenApiOperation>>
}
export interface OpenApiOperation {
  operationId: string
  summary?: string
  parameters?: { name: string; in: string; required?: boolean; schema: Record<string, unknown>; description?: string }[]
  requestBody?: { required?: boolean; content: Record<string, { schema: Record<string, unknown> }> }
  responses: Record<string, { description: string; content?: Record<string, { schema: Record<string, unknown> }> }>
}

/**
 * The document `GET /openapi.json` serves, without a server or a database: the
 * application is built (its routes and schemas are all the document needs) on a
 * pool that never connects, asked for its document, and closed. Generators use it
 * (src/cli/generate-store-client-types.ts), so generating needs no running service.
 */
export async function openApiDocument(): Promise<OpenApiDocument> {
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: 'postgres://127.0.0.1:1/never-connected', DATA_DIR: '', LOG_LEVEL: 'silent' })
  const database = createDatabase(config.DATABASE_URL!, 1)
  const app = await buildApp({ config, database, logger: pino({ level: 'silent' }) } as unknown as AppContext)
  try {
    await app.ready()
    return structuredClone(app.swagger()) as unknown as OpenApiDocument
  } finally {
    await app.close()
    await database.destroy()
  }
}
