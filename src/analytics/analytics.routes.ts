import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { findPlugin } from '../plugins/plugin.repository.ts'
import { findOwnApp } from '../apps/app.repository.ts'
import { AppSlugParams } from '../apps/app.schemas.ts'
import { requireDeveloper } from '../apps/developer-auth.ts'
import { appAnalytics, backlogs, emptyTally, numbers, pluginAnalytics, pluginTotals } from './analytics.queries.ts'
import { AppAnalyticsResponse, OverviewResponse, PluginAnalyticsResponse, RangeQuery } from './analytics.schemas.ts'
import { resolveRange } from './range.ts'
import { sloState, sloStates } from './slo.ts'

/**
 * The analytics API: reads the rollups (src/analytics/aggregator.ts keeps them),
 * never the raw deliveries, so an answer costs what its range holds.
 */
const analyticsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.ctx.database.db

  app.get(
    '/api/analytics/plugins/:slug',
    {
      schema: {
        params: Type.Object({ slug: Type.String({ maxLength: 200 }) }),
        querystring: RangeQuery,
        response: { 200: PluginAnalyticsResponse },
      },
    },
    async (request) => {
      const range = resolveRange(request.query)
      const plugin = await findPlugin(db, request.tenantId, request.params.slug)
      const [analytics, slo] = await Promise.all([
        pluginAnalytics(db, plugin.id, range),
        plugin.slo ? sloState(db, plugin.id, plugin.slo) : null,
      ])
      return { plugin: plugin.slug, ...analytics, slo }
    },
  )

  app.get(
    '/api/analytics/overview',
    { schema: { querystring: Type.Omit(RangeQuery, ['granularity']), response: { 200: OverviewResponse } } },
    async (request) => {
      const range = resolveRange(request.query)
      const plugins = await db
        .selectFrom('plugins')
        .select(['id', 'slug', 'name', 'status', 'kind', 'slo'])
        .where('tenant_id', '=', request.tenantId)
        .where('status', '<>', 'deleted')
        .orderBy('created_at')
        .orderBy('id')
        .execute()
      const [totals, backlog, slos] = await Promise.all([
        pluginTotals(db, request.tenantId, range, { e2e: false }),
        backlogs(db, request.tenantId),
        sloStates(db, plugins.flatMap((p) => (p.slo ? [{ id: p.id, slo: p.slo }] : []))),
      ])
      return {
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        granularity: range.granularity,
        plugins: plugins.map((p) => ({
          plugin: p.slug,
          name: p.name,
          status: p.status,
          kind: p.kind,
          totals: numbers(totals.get(p.id) ?? emptyTally()),
          backlog: backlog.get(p.id) ?? { due: 0, oldest_due_age_ms: null },
          slo: slos.get(p.id) ?? null,
        })),
      }
    },
  )

  // An app's developer: the same numbers for the app across its installations, with the developer key
  // (encapsulated: the developer-key hook guards this route only). Another developer's app is not found.
  const developerRoutes: FastifyPluginAsyncTypebox = async (developer) => {
    requireDeveloper(developer, db)
    developer.get(
      '/api/apps/:slug/analytics',
      {
        config: { principal: 'developer' },
        schema: { params: AppSlugParams, querystring: RangeQuery, response: { 200: AppAnalyticsResponse } },
      },
      async (request) => {
        const range = resolveRange(request.query)
        const own = await findOwnApp(db, request.developer!.id, request.params.slug)
        const [analytics, installations] = await Promise.all([
          appAnalytics(db, own.id, range),
          db
            .selectFrom('installations')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('app_id', '=', own.id)
            .where('status', '=', 'active')
            .executeTakeFirstOrThrow(),
        ])
        return { app: own.slug, installations: Number(installations.n), ...analytics }
      },
    )
  }
  await app.register(developerRoutes)
}

export default analyticsRoutes
