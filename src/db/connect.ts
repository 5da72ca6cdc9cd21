import path from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import { ensureDatabase, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded.ts'

export interface ResolvedDatabase {
  url: string
  /** set when this process started the embedded server (stop it last) */
  embedded?: EmbeddedPostgres
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL under DATA_DIR (started, or joined if running). */
export async function resolveDatabase(
  config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR' | 'EMBEDDED_PG_PORT'>,
  log: Logger,
): Promise<ResolvedDatabase> {
  if (config.DATABASE_URL) return { url: config.DATABASE_URL }
  const dir = path.join(config.DATA_DIR, 'pg')
  const embedded = await startEmbeddedPostgres({ dir, port: config.EMBEDDED_PG_PORT, log: (line) => log.debug({ postgres: line }) })
  log.info({ dir, port: embedded.port }, 'embedded PostgreSQL ready')
  const url = await ensureDatabase(embedded.adminUrl, 'bettercallsold')
  return { url, embedded }
}
