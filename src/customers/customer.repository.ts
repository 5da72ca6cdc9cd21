import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { olderThan, pageOf, UUID } from '../db/keyset.ts'
import type { Customer } from '../db/schema.ts'
import { inTransaction } from '../db/transaction.ts'
import { ConflictError, NotFoundError } from '../errors.ts'
import { CUSTOMER_FIELDS } from '../events/schemas/commerce.ts'
import { emit, outboxTransaction } from '../outbox/emit.ts'
import type { Written } from '../outbox/written.ts'
import { customerEventData } from './customer.events.ts'
import type { CreateCustomerBody, CustomerListQuery, UpdateCustomerBody } from './customer.schemas.ts'

export class EmailTakenError extends ConflictError {
  constructor(email: string) {
    super('EMAIL_TAKEN', `A customer with the email '${email}' already exists`)
  }
}

function isEmailTaken(error: unknown): boolean {
  const pg = error as { code?: string; constraint?: string }
  return pg.code === '23505' && pg.constraint === 'customers_tenant_email'
}

function byId(db: Database, tenantId: string, id: string) {
  if (!UUID.test(id)) throw new NotFoundError('Customer', id)
  return db.selectFrom('customers').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id)
}

/** JSON with sorted keys: jsonb does not keep the key order a client sent, so compare this way. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  )
}

export async function createCustomer(db: Database, tenantId: string, input: CreateCustomerBody): Promise<Written<Customer>> {
  try {
    return await outboxTransaction(db, tenantId, ['customer.created'], async (trx) => {
      const customer = await trx
        .insertInto('customers')
        .values({
          tenant_id: tenantId,
          email: input.email,
          name: input.name ?? null,
          phone: input.phone ?? null,
          addresses: JSON.stringify(input.addresses ?? []),
          accepts_marketing: input.accepts_marketing ?? false,
        })
        .returningAll()
        .executeTakeFirstOrThrow()
      const emitted = await emit(trx, tenantId, 'customer.created', customerEventData(customer))
      return { value: customer, emitted: [emitted] }
    })
  } catch (error) {
    if (isEmailTaken(error)) throw new EmailTakenError(input.email)
    throw error
  }
}

/**
 * Applies the fields that differ and emits customer.updated naming them; an
 * update that changes nothing writes nothing and emits nothing.
 */
export async function updateCustomer(
  db: Database,
  tenantId: string,
  id: string,
  patch: UpdateCustomerBody,
): Promise<Written<Customer>> {
  try {
    return await outboxTransaction(db, tenantId, ['customer.updated'], async (trx) => {
      const before = await byId(trx, tenantId, id).forUpdate().executeTakeFirst()
      if (!before) throw new NotFoundError('Customer', id)
      const changed = CUSTOMER_FIELDS.filter((f) => patch[f] !== undefined && canonical(patch[f]) !== canonical(before[f]))
      if (changed.length === 0) return { value: before, emitted: [] }
      const customer = await trx
        .updateTable('customers')
        .set({
          ...(changed.includes('email') && { email: patch.email }),
          ...(changed.includes('name') && { name: patch.name }),
          ...(changed.includes('phone') && { phone: patch.phone }),
          ...(changed.includes('addresses') && { addresses: JSON.stringify(patch.addresses) }),
          ...(changed.includes('accepts_marketing') && { accepts_marketing: patch.accepts_marketing }),
          updated_at: sql`now()`,
        })
        .where('id', '=', before.id)
        .returningAll()
        .executeTakeFirstOrThrow()
      const emitted = await emit(trx, tenantId, 'customer.updated', { ...customerEventData(customer), changed_fields: changed })
      return { value: customer, emitted: [emitted] }
    })
  } catch (error) {
    if (isEmailTaken(error)) throw new EmailTakenError(patch.email ?? '')
    throw error
  }
}

/**
 * A customer who placed orders stays: the orders need them. Locking the row
 * first means an order being placed for them either commits before (and we
 * refuse) or finds them gone.
 */
export async function deleteCustomer(db: Database, tenantId: string, id: string): Promise<Customer> {
  return inTransaction(db, async (trx) => {
    const customer = await byId(trx, tenantId, id).forUpdate().executeTakeFirst()
    if (!customer) throw new NotFoundError('Customer', id)
    const order = await trx.selectFrom('orders').select('id').where('customer_id', '=', customer.id).limit(1).executeTakeFirst()
    if (order) throw new ConflictError('CUSTOMER_HAS_ORDERS', `Customer '${id}' has orders and cannot be deleted`)
    await trx.deleteFrom('customers').where('id', '=', customer.id).execute()
    return customer
  })
}

export async function findCustomer(db: Database, tenantId: string, id: string): Promise<Customer> {
  const customer = await byId(db, tenantId, id).executeTakeFirst()
  if (!customer) throw new NotFoundError('Customer', id)
  return customer
}

/** Newest first, keyset-paginated like products. */
export async function listCustomers(
  db: Database,
  tenantId: string,
  { limit, cursor, email }: CustomerListQuery,
): Promise<{ customers: Customer[]; nextCursor: string | null }> {
  let query = db
    .selectFrom('customers')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
  if (email !== undefined) query = query.where(sql<boolean>`lower(email) = lower(${email})`)
  if (cursor) query = query.where(olderThan(cursor))
  const { page, nextCursor } = pageOf(await query.execute(), limit)
  return { customers: page, nextCursor }
}
