import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { assertKeyBudget } from '../budgets/tenant-budgets.ts'
import { inTransaction } from '../db/transaction.ts'
import { ForbiddenError } from '../errors.ts'
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from './api-key.repository.ts'
import { CreatedKeyResponse, CreateKeyBody, KeyParams, KeyResponse } from './api-key.schemas.ts'

export function keyJson(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    admin: k.admin,
    operator: k.operator,
    created_at: k.created_at.toISOString(),
    revoked_at: k.revoked_at?.toISOString() ?? null,
  }
}

/** A tenant's admin key manages that tenant's keys; keys of other tenants do not exist for it. */
const apiKeyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.ctx.database.db

  // before the body is read: a caller who may not manage keys learns nothing about its body
  app.addHook('preParsing', async (request) => {
    if (!request.apiKey?.admin) throw new ForbiddenError('ADMIN_KEY_REQUIRED', 'Managing API keys requires an admin API key')
  })

  app.post(
    '/api/keys',
    {
      schema: { body: CreateKeyBody, response: { 201: CreatedKeyResponse } },
      // a bare POST creates an unnamed, non-admin key
      preValidation: async (request) => {
        request.body ??= {}
      },
    },
    async (request, reply) => {
      const { row, key } = await inTransaction(db, async (trx) => {
        await assertKeyBudget(trx, request.tenantId, app.ctx.config.MAX_KEYS_PER_TENANT)
        return createApiKey(trx, request.tenantId, request.body)
      })
      request.log.info({ key_id: row.id, prefix: row.prefix, admin: row.admin }, `🔑 API key created: ${row.prefix}…`)
      return reply.status(201).header('cache-control', 'no-store').send({ ...keyJson(row), key })
    },
  )

  app.get('/api/keys', { schema: { response: { 200: Type.Object({ keys: Type.Array(KeyResponse) }) } } }, async (request) => ({
    keys: (await listApiKeys(db, request.tenantId)).map(keyJson),
  }))

  app.delete('/api/keys/:id', { schema: { params: KeyParams } }, async (request, reply) => {
    const row = await revokeApiKey(db, request.tenantId, request.params.id)
    request.log.info({ key_id: row.id, prefix: row.prefix }, `🔑 API key revoked: ${row.prefix}…`)
    return reply.status(204).send()
  })
}

export default apiKeyRoutes
