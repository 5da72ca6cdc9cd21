import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { inTransaction } from '../db/transaction.ts'
import { AppError } from '../errors.ts'
import { findApp } from '../installations/installation.repository.ts'

export interface Review {
  tenant_id: string
  rating: number
  body: string
  created_at: Date
  updated_at: Date
}

/**
 * A store's review of an app: only a store that has or had an installation, one
 * per store (posting again replaces it). The app's rating_sum and review_count
 * change in the same transaction, under the app's row lock, so the marketplace's
 * rating sort reads a column instead of aggregating reviews.
 */
export async function postReview(db: Database, tenantId: string, slug: string, rating: number, body: string): Promise<{ review: Review; created: boolean }> {
  const app = await findApp(db, slug)
  return inTransaction(db, async (trx) => {
    await trx.selectFrom('apps').select('id').where('id', '=', app.id).forUpdate().execute()
    const installed = await trx.selectFrom('installations').select('id').where('app_id', '=', app.id).where('tenant_id', '=', tenantId).limit(1).executeTakeFirst()
    if (!installed) throw new AppError(403, 'REVIEW_REQUIRES_INSTALLATION', 'Only a store that has installed this app may review it')
    const old = await trx.selectFrom('app_reviews').select('rating').where('app_id', '=', app.id).where('tenant_id', '=', tenantId).executeTakeFirst()
    const review = await trx
      .insertInto('app_reviews')
      .values({ app_id: app.id, tenant_id: tenantId, rating, body })
      .onConflict((oc) => oc.columns(['app_id', 'tenant_id']).doUpdateSet({ rating, body, updated_at: sql`now()` }))
      .returning(['tenant_id', 'rating', 'body', 'created_at', 'updated_at'])
      .executeTakeFirstOrThrow()
    await trx
      .updateTable('apps')
      .set({ rating_sum: sql`rating_sum + ${rating - (old?.rating ?? 0)}::integer`, review_count: sql`review_count + ${old ? 0 : 1}::integer` })
      .where('id', '=', app.id)
      .execute()
    return { review, created: !old }
  })
}

/** The newest reviews of an app. */
export function latestReviews(db: Database, appId: string, limit = 20): Promise<Review[]> {
  return db
    .selectFrom('app_reviews')
    .select(['tenant_id', 'rating', 'body', 'created_at', 'updated_at'])
    .where('app_id', '=', appId)
    .orderBy('updated_at', 'desc')
    .orderBy('tenant_id', 'desc')
    .limit(limit)
    .execute()
}
