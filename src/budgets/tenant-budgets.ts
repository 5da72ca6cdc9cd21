import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { ForbiddenError } from '../errors.ts'

/**
 * Per-tenant budgets on what a tenant creates (plugins, API keys): each relay's
 * work and each rate-limit bucket grows with them, so no tenant may create
 * without end. Checked inside the creating transaction, after a per-tenant
 * advisory lock, so two creations at once cannot both take the last place.
 * The count stops at the budget: its cost follows the budget, not the table.
 */
async function assertBelow(
  trx: Database,
  what: 'plugins' | 'api_keys',
  tenantId: string,
  max: number,
  refuse: () => Error,
): Promise<void> {
  if (!trx.isTransaction) throw new Error('a budget is checked inside the transaction that creates')
  await sql`select pg_advisory_xact_lock(hashtextextended(${`budget:${what}:${tenantId}`}, 0))`.execute(trx)
  const live = what === 'plugins' ? sql`status <> 'deleted'` : sql`revoked_at is null`
  const { rows } = await sql<{ n: number }>`
    select count(*)::integer as n
      from (select 1 from ${sql.table(what)} where tenant_id = ${tenantId} and ${live} limit ${max}) within_budget
  `.execute(trx)
  if ((rows[0]?.n ?? 0) >= max) throw refuse()
}

export const assertPluginBudget = (trx: Database, tenantId: string, max: number) =>
  assertBelow(trx, 'plugins', tenantId, max, () =>
    new ForbiddenError('PLUGIN_BUDGET_EXCEEDED', `This tenant has ${max} plugins, the most it may have (MAX_PLUGINS_PER_TENANT); delete one first`),
  )

export const assertKeyBudget = (trx: Database, tenantId: string, max: number) =>
  assertBelow(trx, 'api_keys', tenantId, max, () =>
    new ForbiddenError('KEY_BUDGET_EXCEEDED', `This tenant has ${max} live API keys, the most it may have (MAX_KEYS_PER_TENANT); revoke one first`),
  )
