import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { AppSlugParams } from '../apps/app.schemas.ts'
import { CATEGORIES } from '../apps/permissions.ts'
import { hasNul } from '../apps/manifest.ts'
import { ValidationError } from '../errors.ts'
import { findApp, install } from '../installations/installation.repository.ts'
import { InstallationResponse } from '../installations/installation.schemas.ts'
import { presentInstallation } from '../installations/installation.routes.ts'
import { requireStoreAdmin } from '../installations/store-admin.ts'
import { InstallBody, Listing, Review, ReviewBody, SearchQuery, SearchResponse } from './marketplace.schemas.ts'
import { latestReviews, postReview } from './reviews.ts'
import { searchApps, type Sort } from './search.ts'

const reviewJson = (r: { rating: number; body: string; created_at: Date; updated_at: Date }) => ({
  rating: r.rating,
  body: r.body,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
})

/** Discovery for stores: search, listings, installing, reviews. */
const marketplaceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { database, cipher, config } = app.ctx
  const db = database.db
  const admin = (request: Parameters<typeof requireStoreAdmin>[0]) => requireStoreAdmin(request, config.AUTH === 'required')

  app.get(
    '/api/marketplace/categories',
    { schema: { response: { 200: Type.Object({ categories: Type.Array(Type.Object({ slug: Type.String(), name: Type.String() })) }) } } },
    async () => ({ categories: CATEGORIES.map((c) => ({ ...c })) }),
  )

  app.get('/api/marketplace', { schema: { querystring: SearchQuery, response: { 200: SearchResponse } } }, async (request) => {
    const { q, category, sort, limit, cursor } = request.query
    if (hasNul(request.query)) throw new ValidationError('INVALID_INPUT', 'The query must not contain NUL characters')
    const result = await searchApps(db, { q, category, sort: sort as Sort | undefined, limit, cursor })
    return {
      apps: result.apps.map((a) => ({
        slug: a.slug,
        name: a.name,
        tagline: a.tagline,
        categories: a.categories,
        icon_url: a.icon_url,
        version: a.version,
        installs: a.installs,
        rating: Number(a.rating),
        review_count: a.review_count,
      })),
      next_cursor: result.nextCursor,
      facets: result.facets,
      searched: result.searched,
    }
  })

  app.get('/api/marketplace/:slug', { schema: { params: AppSlugParams, response: { 200: Listing } } }, async (request) => {
    // listed or not: an unlisted app is found by whoever knows its slug (private distribution)
    const listing = await findApp(db, request.params.slug)
    const versions = await db
      .selectFrom('app_versions')
      .select(['version', 'created_at'])
      .where('app_id', '=', listing.id)
      .orderBy('created_at', 'desc')
      .limit(50)
      .execute()
    return {
      slug: listing.slug,
      name: listing.name,
      tagline: listing.tagline,
      categories: listing.categories,
      icon_url: listing.icon_url,
      version: listing.version,
      installs: listing.installs,
      rating: Number(listing.rating),
      review_count: listing.review_count,
      description: listing.description,
      homepage_url: listing.homepage_url,
      support_url: listing.support_url,
      privacy_url: listing.privacy_url,
      listed: listing.listed,
      events: listing.events,
      permissions: listing.permissions,
      config_schema: listing.config_schema,
      versions: versions.map((v) => ({ version: v.version, published_at: v.created_at.toISOString() })),
      reviews: (await latestReviews(db, listing.id)).map(reviewJson),
      created_at: listing.created_at.toISOString(),
      updated_at: listing.updated_at.toISOString(),
    }
  })

  app.post(
    '/api/marketplace/:slug/install',
    { schema: { params: AppSlugParams, body: InstallBody, response: { 201: InstallationResponse } } },
    async (request, reply) => {
      admin(request)
      const { app: installed, installation } = await install(
        db,
        cipher,
        request.tenantId,
        request.params.slug,
        request.body.accept_permissions,
        request.body.config ?? {},
      )
      request.log.info({ app: installed.slug, installation: installation.id }, `🧩 App installed: ${installed.slug}`)
      return reply.status(201).send(await presentInstallation(db, cipher, installation))
    },
  )

  app.post(
    '/api/marketplace/:slug/reviews',
    { schema: { params: AppSlugParams, body: ReviewBody, response: { 200: Review, 201: Review } } },
    async (request, reply) => {
      admin(request)
      if (hasNul(request.body)) throw new ValidationError('INVALID_INPUT', 'The review must not contain NUL characters')
      const { review, created } = await postReview(db, request.tenantId, request.params.slug, request.body.rating, request.body.body ?? '')
      return reply.status(created ? 201 : 200).send(reviewJson(review))
    },
  )
}

export default marketplaceRoutes
