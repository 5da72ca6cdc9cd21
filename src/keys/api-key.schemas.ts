import { Type } from '@sinclair/typebox'

export const CreateKeyBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 100 })),
    admin: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)

export const KeyParams = Type.Object({ id: Type.String({ format: 'uuid' }) })

export const KeyResponse = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** the key's first characters, to tell keys apart */
  prefix: Type.String(),
  admin: Type.Boolean(),
  /** may read /metrics, which spans tenants; created with bin/admin only */
  operator: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
})

export const CreatedKeyResponse = Type.Composite([
  KeyResponse,
  Type.Object({ key: Type.String({ description: 'The API key: shown this once, never again' }) }),
])
