import type { Database } from './database.ts'

/**
 * Runs `fn` in a transaction: a new one, or the caller's if `db` already is one.
 * Repository functions use it so they compose: a caller can wrap several writes
 * (and their outbox rows) in one transaction of its own.
 */
export function inTransaction<T>(db: Database, fn: (trx: Database) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn)
}
