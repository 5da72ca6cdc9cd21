import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../db/', import.meta.url))

/**
 * Migrations are numbered plain .sql files in db/, frozen once released.
 * Kysely's Migrator runs them in a transaction under its lock table, so two
 * processes starting at once apply each migration exactly once.
 */
class SqlFileProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await fs.readdir(this.dir)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort()
    const migrations: Record<string, Migration> = {}
    for (const file of files) {
      const text = await fs.readFile(path.join(this.dir, file), 'utf8')
      migrations[file.replace(/\.sql$/, '')] = { up: async (db) => void (await sql.raw(text).execute(db)) }
    }
    return migrations
  }
}

export class MigrationError extends Error {
  override name = 'MigrationError'
}

/** Applies every pending migration; throws (never just logs) when one fails. */
export async function migrate(db: Kysely<any>, dir = MIGRATIONS_DIR): Promise<string[]> {
  // Unordered: migrations are written on parallel branches, so one numbered below
  // another already applied (0019 after 0020) is applied too, not refused as
  // corrupt. Each is independent of those numbered beside it (docs/operations.md).
  const migrator = new Migrator({ db, provider: new SqlFileProvider(dir), allowUnorderedMigrations: true })
  const { error, results = [] } = await migrator.migrateToLatest()
  const failed = results.find((r) => r.status === 'Error')
  if (error || failed) {
    const cause = error instanceof Error ? error.message : String(error ?? 'unknown error')
    // the cause tells a connection lost mid-migration (retried at start) from a broken migration
    throw new MigrationError(`migration ${failed?.migrationName ?? ''} failed: ${cause}`.replace('  ', ' '), { cause: error })
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
