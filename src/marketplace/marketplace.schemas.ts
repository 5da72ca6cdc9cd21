import { Type } from '@sinclair/typebox'

export const ListingSummary = Type.Object({
  slug: Type.String(),
  name: Type.String(),
  tagline: Type.String(),
  categories: Type.Array(Type.String()),
  icon_url: Type.Union([Type.String(), Type.Null()]),
  version: Type.String(),
  installs: Type.Integer({ description: 'Live installations' }),
  rating: Type.Number({ description: 'Average rating, 0 without reviews' }),
  review_count: Type.Integer(),
})

// which stores use an app is theirs to tell: a review names no store
export const Review = Type.Object({
  rating: Type.Integer({ minimum: 1, maximum: 5 }),
  body: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})

export const Listing = Type.Composite([
  ListingSummary,
  Type.Object({
    description: Type.String({ description: 'Markdown, free of raw HTML and script links (checked at publish)' }),
    homepage_url: Type.Union([Type.String(), Type.Null()]),
    support_url: Type.Union([Type.String(), Type.Null()]),
    privacy_url: Type.Union([Type.String(), Type.Null()]),
    listed: Type.Boolean(),
    events: Type.Array(Type.String()),
    permissions: Type.Array(Type.Object({ permission: Type.String(), purpose: Type.String() }), {
      description: 'What installing grants, each with the app’s reason: accept exactly these',
    }),
    config_schema: Type.Record(Type.String(), Type.Unknown()),
    versions: Type.Array(Type.Object({ version: Type.String(), published_at: Type.String({ format: 'date-time' }) })),
    reviews: Type.Array(Review, { description: 'The newest 20' }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  }),
])

export const SearchQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 200, description: 'Words to search for; typos are corrected' })),
    category: Type.Optional(Type.String({ maxLength: 40 })),
    sort: Type.Optional(
      Type.Union(['relevance', 'popular', 'rating', 'newest', 'name'].map((s) => Type.Literal(s)), {
        description: 'relevance (the default with q), popular (the default without), rating, newest, name',
      }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 50, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
)

export const SearchResponse = Type.Object({
  apps: Type.Array(ListingSummary),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
  facets: Type.Array(Type.Object({ category: Type.String(), count: Type.Integer() }), { description: 'Matching apps per category, for this query' }),
  searched: Type.Union([Type.String(), Type.Null()], { description: 'The words searched for, after typo correction' }),
})

export const ReviewBody = Type.Object(
  { rating: Type.Integer({ minimum: 1, maximum: 5 }), body: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
)

export const InstallBody = Type.Object(
  {
    accept_permissions: Type.Array(Type.String({ maxLength: 40 }), {
      maxItems: 20,
      description: 'Exactly the permissions the current version asks for (see the listing)',
    }),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Validated against the app’s config_schema; defaults applied' })),
  },
  { additionalProperties: false },
)
