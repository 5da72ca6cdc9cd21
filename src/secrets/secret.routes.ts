import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ValidationError } from '../errors.ts'
import { findOwnSigningPlugin } from '../plugins/plugin.repository.ts'
import { SlugParams } from '../plugins/plugin.schemas.ts'
import { InvalidSecretError } from '../webhooks/signature.ts'
import { canonicalSecret, currentSecret, rotateSecret } from './secret.repository.ts'
import { RotatedSecretResponse, RotateSecretBody, SecretResponse } from './secret.schemas.ts'

/** A secret a client brings must be one any Standard Webhooks verifier accepts. */
function checkedSecret(secret: string): string {
  try {
    return canonicalSecret(secret)
  } catch (error) {
    // the message says what is wrong without repeating the secret
    if (error instanceof InvalidSecretError) throw new ValidationError('INVALID_SECRET', error.message)
    throw error
  }
}

/**
 * A plugin's signing secret: read on demand, rotated with a grace window. These
 * and the registration's 201 are the only responses that ever carry a secret.
 */
const secretRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, cipher, config } = app.ctx
  const db = database.db

  app.get('/api/plugins/:slug/secret', { schema: { params: SlugParams, response: { 200: SecretResponse } } }, async (request, reply) => {
    const plugin = await findOwnSigningPlugin(db, request.tenantId, request.params.slug)
    const secret = await currentSecret(db, cipher, plugin.id)
    return reply.header('cache-control', 'no-store').send({ secret })
  })

  app.post(
    '/api/plugins/:slug/secret/rotate',
    {
      schema: { params: SlugParams, body: RotateSecretBody, response: { 200: RotatedSecretResponse } },
      // the body is optional: a bare POST rotates to a generated secret
      preValidation: async (request) => {
        request.body ??= {}
      },
    },
    async (request, reply) => {
      const own = request.body.secret === undefined ? undefined : checkedSecret(request.body.secret)
      const plugin = await findOwnSigningPlugin(db, request.tenantId, request.params.slug)
      const rotated = await rotateSecret(db, cipher, plugin, config.SECRET_ROTATION_GRACE_MS, own)
      const previousExpiresAt = rotated.previousExpiresAt?.toISOString() ?? null
      request.log.info({ plugin: plugin.slug, previous_secret_expires_at: previousExpiresAt }, `🔑 Secret rotated for plugin: ${plugin.slug}`)
      return reply.header('cache-control', 'no-store').send({ secret: rotated.secret, previous_secret_expires_at: previousExpiresAt })
    },
  )
}

export default secretRoutes
