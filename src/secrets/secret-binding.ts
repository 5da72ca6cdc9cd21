import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { inTransaction } from '../db/transaction.ts'
import { isUnbound, type SecretCipher } from './cipher.ts'
import { secretContext } from './secret.repository.ts'

/** Rows re-encrypted per transaction. */
const BATCH = 500

/**
 * Re-encrypts secrets stored before ciphertexts were bound to their plugin (v1)
 * as bound ones (v2), at start, in batches. Processes starting together share
 * the work (skip locked); the partial index of db/0010 finds the rows left, so
 * once none are this costs one empty index probe. Returns how many it bound.
 */
export async function bindUnboundSecrets(db: Database, cipher: SecretCipher): Promise<number> {
  let bound = 0
  for (;;) {
    const n = await inTransaction(db, async (trx) => {
      const { rows } = await sql<{ id: number; plugin_id: string; ciphertext: string }>`
        select id, plugin_id, ciphertext
          from plugin_secrets
         where ciphertext like 'v1:%'
         order by id
         limit ${BATCH}
           for update skip locked
      `.execute(trx)
      const rebound = rows.filter((r) => isUnbound(r.ciphertext))
      if (rebound.length === 0) return rows.length
      const ids = rebound.map((r) => r.id)
      const texts = rebound.map((r) => cipher.encrypt(cipher.decrypt(r.ciphertext), secretContext(r.plugin_id)))
      await sql`
        update plugin_secrets s
           set ciphertext = b.ciphertext
          from unnest(${ids}::bigint[], ${texts}::text[]) as b (id, ciphertext)
         where s.id = b.id
      `.execute(trx)
      bound += rebound.length
      return rows.length
    })
    if (n < BATCH) return bound
  }
}
