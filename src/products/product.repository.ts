import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { encodeCursor, olderThan, pageOf, UUID } from '../db/keyset.ts'
import type { Product } from '../db/schema.ts'
import { NotFoundError, ValidationError } from '../errors.ts'
import { emit, outboxTransaction, type Emitted } from '../outbox/emit.ts'
import { productEventData } from './product.events.ts'
import type { CreateProductBody, UpdateProductBody } from './product.schemas.ts'

export interface Written<T> {
  value: T
  emitted: Emitted
}

function checkPrice(price: number | undefined): void {
  // prices are exact to the cent; 19.999 would be rounded silently by numeric(14,2)
  if (price !== undefined && Math.abs(Math.round(price * 100) - price * 100) > 1e-6) {
    throw new ValidationError('INVALID_PRICE', 'price must have at most two decimal places')
  }
}

function byId(db: Database, tenantId: string, id: string) {
  if (!UUID.test(id)) throw new NotFoundError('Product', id)
  return db.selectFrom('products').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id)
}

/** Each write and its event commit together: the outbox. */
export async function createProduct(db: Database, tenantId: string, input: CreateProductBody): Promise<Written<Product>> {
  checkPrice(input.price)
  return outboxTransaction(db, tenantId, ['product.created'], async (trx) => {
    const product = await trx
      .insertInto('products')
      .values({ tenant_id: tenantId, ...input })
      .returningAll()
      .executeTakeFirstOrThrow()
    const emitted = await emit(trx, tenantId, 'product.created', productEventData(product))
    return { value: product, emitted }
  })
}

export async function updateProduct(
  db: Database,
  tenantId: string,
  id: string,
  patch: UpdateProductBody,
): Promise<Written<Product>> {
  checkPrice(patch.price)
  return outboxTransaction(db, tenantId, ['product.updated'], async (trx) => {
    const before = await byId(trx, tenantId, id).forUpdate().executeTakeFirst()
    if (!before) throw new NotFoundError('Product', id)
    const product = await trx
      .updateTable('products')
      .set({ ...patch, updated_at: sql`now()` })
      .where('id', '=', before.id)
      .returningAll()
      .executeTakeFirstOrThrow()
    const previous = productEventData(before) as Record<string, unknown>
    const current = productEventData(product) as Record<string, unknown>
    const changed = Object.keys(patch).filter((k) => JSON.stringify(previous[k]) !== JSON.stringify(current[k]))
    const emitted = await emit(trx, tenantId, 'product.updated', { ...current, changed_fields: changed })
    return { value: product, emitted }
  })
}

export async function deleteProduct(db: Database, tenantId: string, id: string): Promise<Written<Product>> {
  return outboxTransaction(db, tenantId, ['product.deleted'], async (trx) => {
    if (!UUID.test(id)) throw new NotFoundError('Product', id)
    const product = await trx
      .deleteFrom('products')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst()
    if (!product) throw new NotFoundError('Product', id)
    const emitted = await emit(trx, tenantId, 'product.deleted', productEventData(product))
    return { value: product, emitted }
  })
}

export async function findProduct(db: Database, tenantId: string, id: string): Promise<Product> {
  const product = await byId(db, tenantId, id).executeTakeFirst()
  if (!product) throw new NotFoundError('Product', id)
  return product
}

/**
 * Newest first, keyset-paginated: the cursor is the last row's (created_at, id).
 * A page also ends once its rows reach `maxBytes` (each product can hold ~600 KB
 * of lists): the sizes are summed in the database, and only the rows that fit
 * are read, so a page of large products never passes through memory whole.
 */
export async function listProducts(
  db: Database,
  tenantId: string,
  limit: number,
  cursor?: string,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Promise<{ products: Product[]; nextCursor: string | null }> {
  const { rows } = await sql<Product & { fits: boolean }>`
    with page as (
      select id,
             (row_number() over w = 1 or sum(octet_length(products::text)) over w <= ${maxBytes}) as fits,
             row_number() over w as n
        from products
       where tenant_id = ${tenantId} ${cursor ? sql`and ${olderThan(cursor)}` : sql``}
      window w as (order by created_at desc, id desc rows unbounded preceding)
       order by created_at desc, id desc
       limit ${limit + 1}
    )
    select p.*, page.fits
      from page
      left join products p on p.id = page.id and page.fits
     order by page.n
  `.execute(db)
  const products = rows.map(({ fits: _fits, ...product }) => product)
  const end = rows.findIndex((r) => !r.fits)
  if (end === -1) {
    const { page, nextCursor } = pageOf(products, limit)
    return { products: page, nextCursor }
  }
  // cut short by its bytes (the first row always fits): the next page starts after the last that fit
  const page = products.slice(0, end)
  return { products: page, nextCursor: encodeCursor(page.at(-1)!) }
}
