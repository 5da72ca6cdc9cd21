import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Database } from '../db/database.ts'
import type { Installation } from '../db/schema.ts'
import type { SecretCipher } from '../secrets/cipher.ts'
import { secretValues } from './install-config.ts'
import { approve, findInstallation, uninstall, updateConfig } from './installation.repository.ts'
import { ApproveBody, InstallationDetail, InstallationParams, InstallationResponse, installationJson, UpdateInstallationBody } from './installation.schemas.ts'
import { requireStoreAdmin } from './store-admin.ts'

/** An installation as the store sees it: its writeOnly values only by name. */
export async function presentInstallation(db: Database, cipher: SecretCipher, installation: Installation) {
  const app = await db.selectFrom('apps').selectAll().where('id', '=', installation.app_id).executeTakeFirstOrThrow()
  return installationJson(app, installation, Object.keys(secretValues(cipher, installation.secret_config)))
}

/** A store's installed apps: list, configure, approve a version's permissions, uninstall. */
const installationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, cipher, config } = app.ctx
  const db = database.db
  const admin = (request: Parameters<typeof requireStoreAdmin>[0]) => requireStoreAdmin(request, config.AUTH === 'required')

  app.get(
    '/api/installations',
    { schema: { response: { 200: Type.Object({ installations: Type.Array(InstallationResponse) }) } } },
    async (request) => {
      admin(request)
      // a store's live installations: one per app it installed, so as few as the apps it uses
      const rows = await db
        .selectFrom('installations as i')
        .innerJoin('apps as a', 'a.id', 'i.app_id')
        .selectAll('i')
        .select(['a.slug', 'a.name', 'a.version as latest_version'])
        .where('i.tenant_id', '=', request.tenantId)
        .where('i.status', '=', 'active')
        .orderBy('i.created_at', 'desc')
        .orderBy('i.id', 'desc')
        .execute()
      return {
        installations: rows.map((r) =>
          installationJson({ slug: r.slug, name: r.name, version: r.latest_version }, r, Object.keys(secretValues(cipher, r.secret_config))),
        ),
      }
    },
  )

  app.get('/api/installations/:id', { schema: { params: InstallationParams, response: { 200: InstallationDetail } } }, async (request) => {
    admin(request)
    const installation = await findInstallation(db, request.tenantId, request.params.id)
    // by primary key: the schema of the version it runs, which a pending upgrade has not replaced
    const version = await db
      .selectFrom('app_versions')
      .select('config_schema')
      .where('app_id', '=', installation.app_id)
      .where('version', '=', installation.version)
      .executeTakeFirstOrThrow()
    return { ...(await presentInstallation(db, cipher, installation)), config_schema: version.config_schema }
  })

  app.patch(
    '/api/installations/:id',
    { schema: { params: InstallationParams, body: UpdateInstallationBody, response: { 200: InstallationResponse } } },
    async (request) => {
      admin(request)
      return presentInstallation(db, cipher, await updateConfig(db, cipher, request.tenantId, request.params.id, request.body.config))
    },
  )

  app.post(
    '/api/installations/:id/approve',
    {
      schema: { params: InstallationParams, body: ApproveBody, response: { 200: InstallationResponse } },
      // `curl -X POST …/approve` sends no body at all: the empty object it means
      preValidation: async (request) => {
        request.body ??= {}
      },
    },
    async (request) => {
      admin(request)
      return presentInstallation(db, cipher, await approve(db, cipher, request.tenantId, request.params.id, request.body.config))
    },
  )

  app.delete('/api/installations/:id', { schema: { params: InstallationParams } }, async (request, reply) => {
    admin(request)
    const installation = await uninstall(db, request.tenantId, request.params.id)
    request.log.info({ installation: installation.id }, `🧩 App uninstalled: installation ${installation.id}`)
    return reply.status(204).send()
  })
}

export default installationRoutes
