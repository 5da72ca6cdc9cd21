import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { olderThan, pageOf, UUID } from '../db/keyset.ts'
import type { Order, OrderItem, Product } from '../db/schema.ts'
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts'
import { adjustStock, INVENTORY_EVENTS } from '../inventory/adjust-stock.ts'
import { InsufficientStockError } from '../inventory/insufficient-stock.ts'
import { lockProducts } from '../inventory/lock-products.ts'
import { emit, outboxTransaction, type Emitted } from '../outbox/emit.ts'
import type { Written } from '../outbox/written.ts'
import { checkAmount, fromCents, toCents } from './money.ts'
import { orderEventData, type FullOrder } from './order.events.ts'
import type { CreateOrderBody, OrderListQuery } from './order.schemas.ts'
import { InvalidTransitionError, TRANSITIONS, type OrderAction } from './order.transitions.ts'

async function itemsOf(db: Database, orderIds: string[]): Promise<OrderItem[]> {
  if (orderIds.length === 0) return []
  return db.selectFrom('order_items').selectAll().where('order_id', 'in', orderIds).orderBy('order_id').orderBy('position').execute()
}

function customerOf(db: Database, tenantId: string, customerId: string) {
  return db
    .selectFrom('customers')
    .select(['id', 'email', 'name', 'accepts_marketing'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', customerId)
}

/** Stock taken (negative) or returned (positive) per product, in the products' lock order. */
async function moveStock(
  trx: Database,
  tenantId: string,
  products: Product[],
  items: { product_id: string; quantity: number }[],
  sign: 1 | -1,
  cause: Parameters<typeof adjustStock>[4],
): Promise<Emitted[]> {
  const emitted: Emitted[] = []
  for (const product of products) {
    const units = items.filter((i) => i.product_id === product.id).reduce((n, i) => n + i.quantity, 0)
    emitted.push(...(await adjustStock(trx, tenantId, product, { delta: sign * units }, cause)).emitted)
  }
  return emitted
}

/**
 * Places an order: prices snapshotted from the products, totals in integer
 * cents, stock taken, order.created and the inventory events it causes, all
 * in one transaction. The product rows stay locked until commit, so orders
 * competing for the last units are served one after the other, and the later
 * one sees what the earlier left.
 */
export async function createOrder(db: Database, tenantId: string, input: CreateOrderBody): Promise<Written<FullOrder>> {
  // uuids compare case-insensitively in SQL; the map below keys on the database's lowercase form
  const wanted = input.items.map((i) => ({ product_id: i.product_id.toLowerCase(), quantity: i.quantity }))
  const ids = wanted.map((i) => i.product_id)
  const repeated = ids.find((id, n) => ids.indexOf(id) !== n)
  if (repeated) {
    throw new ValidationError('DUPLICATE_PRODUCT', `product ${repeated} is in more than one line; order it once with the total quantity`)
  }
  return outboxTransaction(db, tenantId, ['order.created', ...INVENTORY_EVENTS], async (trx) => {
    // key share: the customer cannot be deleted while their order is being placed
    const customer = await customerOf(trx, tenantId, input.customer_id).forKeyShare().executeTakeFirst()
    if (!customer) throw new ValidationError('UNKNOWN_CUSTOMER', `Customer '${input.customer_id}' not found`)

    const products = await lockProducts(trx, tenantId, ids)
    const byId = new Map(products.map((p) => [p.id, p]))
    const lines = wanted.map((item, position) => ({ position, item, product: byId.get(item.product_id) }))
    const missing = lines.filter((l) => !l.product).map((l) => l.item.product_id)
    if (missing.length > 0) throw new ValidationError('UNKNOWN_PRODUCT', `Products not found: ${missing.join(', ')}`)
    const found = lines.map(({ position, item, product }) => ({ position, quantity: item.quantity, product: product! }))

    const inactive = found.filter((l) => l.product.status !== 'active')
    if (inactive.length > 0) {
      const names = inactive.map((l) => `'${l.product.name}' (${l.product.status})`)
      throw new ConflictError('PRODUCT_UNAVAILABLE', `Not for sale: ${names.join(', ')}`)
    }
    const short = found.filter((l) => l.product.inventory_quantity < l.quantity)
    if (short.length > 0) {
      throw new InsufficientStockError(
        short.map((l) => ({ product_id: l.product.id, name: l.product.name, requested: l.quantity, available: l.product.inventory_quantity })),
      )
    }

    const priced = found.map((l) => {
      const unit = toCents(l.product.price)
      return { ...l, unit, lineTotal: checkAmount(unit * BigInt(l.quantity), `the line total of '${l.product.name}'`) }
    })
    const total = checkAmount(priced.reduce((sum, l) => sum + l.lineTotal, 0n), 'the order total')

    const order = await trx
      .insertInto('orders')
      .values({ tenant_id: tenantId, customer_id: customer.id, total: fromCents(total) })
      .returningAll()
      .executeTakeFirstOrThrow()
    await trx
      .insertInto('order_items')
      .values(
        priced.map((l) => ({
          order_id: order.id,
          position: l.position,
          tenant_id: tenantId,
          product_id: l.product.id,
          name: l.product.name,
          unit_price: fromCents(l.unit),
          quantity: l.quantity,
          line_total: fromCents(l.lineTotal),
        })),
      )
      .execute()
    const full: FullOrder = { order, items: await itemsOf(trx, [order.id]), customer }
    const emitted = [await emit(trx, tenantId, 'order.created', orderEventData(full))]
    emitted.push(...(await moveStock(trx, tenantId, products, wanted, -1, { reason: 'order_created', orderId: order.id })))
    return { value: full, emitted }
  })
}

export interface TransitionDetails {
  tracking_number?: string
  reason?: string
}

/**
 * Moves an order along its state machine and emits the transition's event;
 * a cancel also puts the items back into stock, emitting the inventory events.
 */
export async function transitionOrder(
  db: Database,
  tenantId: string,
  id: string,
  action: OrderAction,
  details: TransitionDetails = {},
): Promise<Written<FullOrder>> {
  if (!UUID.test(id)) throw new NotFoundError('Order', id)
  const rule = TRANSITIONS[action]
  const types = action === 'cancel' ? [rule.event, ...INVENTORY_EVENTS] : [rule.event]
  return outboxTransaction(db, tenantId, types, async (trx) => {
    const before = await trx
      .selectFrom('orders')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst()
    if (!before) throw new NotFoundError('Order', id)
    if (!rule.from.includes(before.status)) throw new InvalidTransitionError(action, before.status)

    const order = await trx
      .updateTable('orders')
      .set({
        status: rule.to,
        [rule.stamp]: sql`now()`,
        updated_at: sql`now()`,
        ...(action === 'ship' && { tracking_number: details.tracking_number ?? null }),
        ...(action === 'cancel' && { cancel_reason: details.reason ?? null }),
      })
      .where('id', '=', before.id)
      .returningAll()
      .executeTakeFirstOrThrow()
    const items = await itemsOf(trx, [order.id])
    const customer = await customerOf(trx, tenantId, order.customer_id).executeTakeFirstOrThrow()
    const full: FullOrder = { order, items, customer }
    const data = orderEventData(full)
    const emitted = [await emit(trx, tenantId, rule.event, action === 'cancel' ? { ...data, previous_status: before.status } : data)]
    if (action === 'cancel') {
      // a product deleted since the order was placed has no stock to return to
      const products = await lockProducts(trx, tenantId, items.map((i) => i.product_id))
      emitted.push(...(await moveStock(trx, tenantId, products, items, 1, { reason: 'order_cancelled', orderId: order.id })))
    }
    return { value: full, emitted }
  })
}

export async function findOrder(db: Database, tenantId: string, id: string): Promise<{ order: Order; items: OrderItem[] }> {
  if (!UUID.test(id)) throw new NotFoundError('Order', id)
  const order = await db.selectFrom('orders').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst()
  if (!order) throw new NotFoundError('Order', id)
  return { order, items: await itemsOf(db, [order.id]) }
}

/** Newest first, keyset-paginated like products, optionally of one status and/or one customer. */
export async function listOrders(
  db: Database,
  tenantId: string,
  { limit, cursor, status, customer_id }: OrderListQuery,
): Promise<{ orders: { order: Order; items: OrderItem[] }[]; nextCursor: string | null }> {
  let query = db
    .selectFrom('orders')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
  if (status) query = query.where('status', '=', status)
  if (customer_id) query = query.where('customer_id', '=', customer_id)
  if (cursor) query = query.where(olderThan(cursor))
  const { page, nextCursor } = pageOf(await query.execute(), limit)
  const items = await itemsOf(db, page.map((o) => o.id))
  return {
    orders: page.map((order) => ({ order, items: items.filter((i) => i.order_id === order.id) })),
    nextCursor,
  }
}
