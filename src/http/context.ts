import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import type { DatabaseHandle } from '../db/database.ts'
import type { DatabaseReadiness } from '../db/readiness.ts'
import type { SecretCipher } from '../secrets/cipher.ts'
import type { Dispatcher } from '../relay/dispatcher.ts'
import type { Relay } from '../relay/relay.ts'

/** What the routes need from the running service. */
export interface AppContext {
  config: Config
  database: DatabaseHandle
  /** whether the database answers and was migrated at start (the health endpoints, the startup gate) */
  readiness: DatabaseReadiness
  /** sends connectivity tests and manual processing; the relay's own when it runs in-process */
  dispatcher: Dispatcher
  relay?: Relay
  logger: Logger
  /** encrypts and decrypts plugin secrets; its key is loaded once, at start */
  cipher: SecretCipher
}

declare module 'fastify' {
  interface FastifyInstance {
    ctx: AppContext
  }
  interface FastifyRequest {
    /** the tenant the request acts for; resolved once, in tenant.ts */
    tenantId: string
  }
}
