import { Type, type Static } from '@sinclair/typebox'
import { AddressSchema } from '../events/schemas/commerce.ts'

const fields = {
  email: Type.String({ format: 'email', minLength: 3, maxLength: 254 }),
  name: Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()]),
  phone: Type.Union([Type.String({ minLength: 3, maxLength: 50, pattern: '^[0-9+()./ -]+$' }), Type.Null()]),
  addresses: Type.Array(AddressSchema, { maxItems: 20 }),
  accepts_marketing: Type.Boolean(),
}

export const CreateCustomerBody = Type.Object(
  {
    email: fields.email,
    name: Type.Optional(fields.name),
    phone: Type.Optional(fields.phone),
    addresses: Type.Optional(fields.addresses),
    accepts_marketing: Type.Optional(fields.accepts_marketing),
  },
  { additionalProperties: false },
)
export type CreateCustomerBody = Static<typeof CreateCustomerBody>

export const UpdateCustomerBody = Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 })
export type UpdateCustomerBody = Static<typeof UpdateCustomerBody>

export const CustomerParams = Type.Object({ id: Type.String({ maxLength: 100 }) })

export const CustomerListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
    /** finds the one customer with this address, in any case */
    email: Type.Optional(Type.String({ maxLength: 254 })),
  },
  { additionalProperties: false },
)
export type CustomerListQuery = Static<typeof CustomerListQuery>

export const CustomerResponse = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  phone: Type.Union([Type.String(), Type.Null()]),
  addresses: Type.Array(AddressSchema),
  accepts_marketing: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})
