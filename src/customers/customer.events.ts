import type { Customer } from '../db/schema.ts'
import type { CustomerCreatedData } from '../events/schemas/commerce.ts'

/** The `data` of customer.created (customer.updated adds `changed_fields`). */
export function customerEventData(c: Customer): CustomerCreatedData {
  return {
    customer_id: c.id,
    email: c.email,
    name: c.name,
    phone: c.phone,
    addresses: c.addresses,
    accepts_marketing: c.accepts_marketing,
    created_at: c.created_at.toISOString(),
    updated_at: c.updated_at.toISOString(),
  }
}

export function customerJson(c: Customer) {
  const { customer_id, ...rest } = customerEventData(c)
  return { id: customer_id, ...rest }
}
