import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { inTransaction } from '../db/transaction.ts'
import { AppError, ValidationError } from '../errors.ts'
import { followNewVersion } from '../installations/installation.repository.ts'
import { mintAccessToken } from '../installations/access-token.ts'
import { appJson } from './app.json.ts'
import { authenticateClient, createApp, findOwnApp, listOwnApps, publishVersion, rotateClientSecret } from './app.repository.ts'
import {
  AppCredentials,
  AppResponse,
  AppSlugParams,
  CreateAppBody,
  MANIFEST_BODY_LIMIT,
  PublishAppBody,
  RotatedClientSecret,
} from './app.schemas.ts'
import { basicCredentials, requireDeveloper } from './developer-auth.ts'
import { installationsWithHealth } from './developer-view.ts'
import { checkManifest } from './manifest.ts'

/** Slugs that are paths of their own under /api/apps/ and /api/marketplace/. */
const RESERVED_SLUGS = new Set(['installations', 'categories'])

const DeveloperInstallation = Type.Object({
  installation_id: Type.String({ format: 'uuid' }),
  tenant_id: Type.String({ format: 'uuid' }),
  status: Type.String({ description: 'active or uninstalled' }),
  version: Type.String(),
  permissions: Type.Array(Type.String(), { description: 'granted' }),
  pending_version: Type.Union([Type.String(), Type.Null()]),
  pending_permissions: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'asked for by pending_version, not yet approved' }),
  installed_at: Type.String({ format: 'date-time' }),
  uninstalled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  health: Type.Object(
    {
      sent: Type.Integer(),
      failed: Type.Integer(),
      success_rate: Type.Union([Type.Number(), Type.Null()], { description: 'sent / (sent + failed); null with neither' }),
    },
    { description: 'Deliveries created in the last day' },
  ),
})

const AccessTokenParams = Type.Object({ installation_id: Type.String({ format: 'uuid' }) })
const AccessToken = Type.Object({
  token: Type.String({ description: 'Send as `Authorization: Bearer <token>` to the store API' }),
  expires_at: Type.String({ format: 'date-time' }),
  permissions: Type.Array(Type.String()),
  installation_id: Type.String({ format: 'uuid' }),
  tenant_id: Type.String({ format: 'uuid' }),
})

/** The developer's side of the platform: apps, versions, credentials, installations; and the app's own token endpoint. */
const appRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, config, cipher } = app.ctx
  const db = database.db

  // The app itself, with its client credentials (HTTP Basic, GitHub Apps' model): no developer key, no store key.
  app.post(
    '/api/apps/installations/:installation_id/access_tokens',
    { config: { principal: 'app' }, schema: { params: AccessTokenParams, response: { 201: AccessToken } } },
    async (request, reply) => {
      const credentials = basicCredentials(request.headers.authorization)
      const client = credentials && (await authenticateClient(db, credentials.id, credentials.secret))
      if (!client) {
        reply.header('www-authenticate', 'Basic realm="apps"')
        throw new AppError(401, 'INVALID_CLIENT_CREDENTIALS', 'Send the app’s client_id and client_secret as HTTP Basic credentials')
      }
      const minted = await mintAccessToken(db, client, request.params.installation_id)
      return reply.status(201).header('cache-control', 'no-store').send(minted)
    },
  )

  // encapsulated: the developer-key hook guards these routes only
  const developerRoutes: FastifyPluginAsyncTypebox = async (developer) => {
    requireDeveloper(developer, db)
    const own = { config: { principal: 'developer' as const } }

    developer.post(
      '/api/apps',
      { ...own, bodyLimit: MANIFEST_BODY_LIMIT, schema: { body: CreateAppBody, response: { 201: Type.Composite([AppResponse, AppCredentials]) } } },
      async (request, reply) => {
        if (RESERVED_SLUGS.has(request.body.slug)) throw new ValidationError('RESERVED_SLUG', `The slug '${request.body.slug}' is reserved`)
        const manifest = checkManifest(request.body, config)
        const created = await createApp(db, cipher, request.developer!.id, request.body.slug, manifest)
        request.log.info({ app: created.app.slug }, `🧩 App created: ${created.app.slug} ${created.app.version}`)
        return reply
          .status(201)
          .header('cache-control', 'no-store')
          .send({ ...appJson(created.app), client_secret: created.clientSecret, signing_secret: created.signingSecret })
      },
    )

    developer.get('/api/apps', { ...own, schema: { response: { 200: Type.Object({ apps: Type.Array(AppResponse) }) } } }, async (request) => ({
      apps: (await listOwnApps(db, request.developer!.id)).map(appJson),
    }))

    developer.get('/api/apps/:slug', { ...own, schema: { params: AppSlugParams, response: { 200: AppResponse } } }, async (request) =>
      appJson(await findOwnApp(db, request.developer!.id, request.params.slug)),
    )

    developer.put(
      '/api/apps/:slug',
      {
        ...own,
        bodyLimit: MANIFEST_BODY_LIMIT,
        schema: {
          params: AppSlugParams,
          body: PublishAppBody,
          response: {
            200: Type.Object({
              app: AppResponse,
              installations: Type.Object({
                followed: Type.Integer({ description: 'moved to this version at once: it asks for nothing more than they granted' }),
                pending: Type.Integer({ description: 'wait for their store’s approval (pending_permissions)' }),
              }),
            }),
          },
        },
      },
      async (request) => {
        const manifest = checkManifest(request.body, config)
        const { after, installations } = await inTransaction(db, async (trx) => {
          const { after } = await publishVersion(trx, request.developer!.id, request.params.slug, manifest)
          return { after, installations: await followNewVersion(trx, cipher, after) }
        })
        request.log.info({ app: after.slug, ...installations }, `🧩 App published: ${after.slug} ${after.version}`)
        return { app: appJson(after), installations }
      },
    )

    developer.post(
      '/api/apps/:slug/client-secret/rotate',
      { ...own, schema: { params: AppSlugParams, response: { 200: RotatedClientSecret } } },
      async (request, reply) => {
        const own = await findOwnApp(db, request.developer!.id, request.params.slug)
        const rotated = await rotateClientSecret(db, own.id, config.SECRET_ROTATION_GRACE_MS)
        return reply.header('cache-control', 'no-store').send({
          client_id: own.client_id,
          client_secret: rotated.secret,
          previous_expires_at: rotated.previousExpiresAt?.toISOString() ?? null,
        })
      },
    )

    developer.get(
      '/api/apps/:slug/installations',
      {
        ...own,
        schema: {
          params: AppSlugParams,
          querystring: Type.Object(
            { limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }), cursor: Type.Optional(Type.String({ maxLength: 200 })) },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ installations: Type.Array(DeveloperInstallation), next_cursor: Type.Union([Type.String(), Type.Null()]) }) },
        },
      },
      async (request) => {
        const own = await findOwnApp(db, request.developer!.id, request.params.slug)
        const { rows, nextCursor } = await installationsWithHealth(db, own.id, request.query.limit, request.query.cursor)
        return {
          installations: rows.map((r) => ({
            installation_id: r.id,
            tenant_id: r.tenant_id,
            status: r.status,
            version: r.version,
            permissions: r.permissions,
            pending_version: r.pending_version,
            pending_permissions: r.pending_permissions,
            installed_at: r.created_at.toISOString(),
            uninstalled_at: r.uninstalled_at?.toISOString() ?? null,
            health: { sent: r.sent, failed: r.failed, success_rate: r.sent + r.failed === 0 ? null : r.sent / (r.sent + r.failed) },
          })),
          next_cursor: nextCursor,
        }
      },
    )
  }
  await app.register(developerRoutes)
}

export default appRoutes
