import { Type } from '@sinclair/typebox'

const Secret = Type.String({
  description: 'The signing secret: whsec_ + base64 of 32 random bytes. Verify webhooks with it; keep it like a password',
})

export const SecretResponse = Type.Object({ secret: Secret })

export const RotateSecretBody = Type.Object(
  {
    secret: Type.Optional(
      Type.String({ maxLength: 200, description: 'Bring your own instead of a generated one: whsec_ + base64 of 24–64 bytes' }),
    ),
  },
  { additionalProperties: false },
)

export const RotatedSecretResponse = Type.Object({
  secret: Secret,
  previous_secret_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'Until when the secret it replaced keeps signing, alongside this one; null if there was none',
  }),
})
