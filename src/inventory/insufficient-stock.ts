import { AppError } from '../errors.ts'

export interface ShortItem {
  product_id: string
  name: string
  requested: number
  available: number
}

/** 409 naming every line that cannot be served, so a client can fix them all at once. */
export class InsufficientStockError extends AppError {
  constructor(readonly items: ShortItem[]) {
    const lines = items.map((i) => `'${i.name}' (requested ${i.requested}, available ${i.available})`)
    super(409, 'INSUFFICIENT_STOCK', `Not enough stock for ${lines.join(', ')}`, { items })
  }
}
