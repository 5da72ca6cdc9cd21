import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Developer } from '../db/schema.ts'
import { credentialPrefix, generateCredential, hashCredential, isCredential } from './credentials.ts'

export type DeveloperRow = Omit<Developer, 'key_hash'>
const columns = ['id', 'name', 'prefix', 'created_at', 'revoked_at'] as const

/** Creates a developer and its key; the key is returned in clear, this once. */
export async function createDeveloper(db: Database, name: string): Promise<{ row: DeveloperRow; key: string }> {
  const key = generateCredential('developer')
  const row = await db
    .insertInto('developers')
    .values({ name, prefix: credentialPrefix(key), key_hash: hashCredential(key) })
    .returning(columns)
    .executeTakeFirstOrThrow()
  return { row, key }
}

export function listDevelopers(db: Database): Promise<DeveloperRow[]> {
  return db.selectFrom('developers').select(columns).orderBy('created_at').orderBy('id').execute()
}

export async function revokeDeveloper(db: Database, id: string): Promise<DeveloperRow | undefined> {
  return db.updateTable('developers').set({ revoked_at: sql`now()` }).where('id', '=', id).where('revoked_at', 'is', null).returning(columns).executeTakeFirst()
}

/** The live developer a key belongs to, or undefined. One look-up by the unique hash index. */
export async function findDeveloperByKey(db: Database, key: string): Promise<{ id: string; name: string } | undefined> {
  if (!isCredential('developer', key)) return undefined
  return db
    .selectFrom('developers')
    .select(['id', 'name'])
    .where('key_hash', '=', hashCredential(key))
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
}
