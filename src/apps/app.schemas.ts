import { Type, type Static } from '@sinclair/typebox'
import { SLUG_PATTERN } from '../plugins/plugin.schemas.ts'
import { PERMISSIONS } from './permissions.ts'

/** Markdown of the listing page: generous, bounded. */
export const MAX_DESCRIPTION_BYTES = 20 * 1024
/** A whole manifest beyond this is refused before it is parsed (413). */
export const MANIFEST_BODY_LIMIT = 64 * 1024

const Url = (description: string) =>
  Type.String({ format: 'uri', pattern: '^[hH][tT][tT][pP][sS]?://', maxLength: 2048, description })

const PermissionRequest = Type.Object(
  {
    permission: Type.String({ maxLength: 40, description: `One of ${PERMISSIONS.join(', ')}` }),
    purpose: Type.String({ minLength: 1, maxLength: 300, description: 'Why the app needs it, shown to the store at install' }),
  },
  { additionalProperties: false },
)

/** The app manifest (POST /api/apps creates, PUT /api/apps/:slug publishes a new version). */
const manifest = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  tagline: Type.String({ maxLength: 120 }),
  description: Type.String({ maxLength: MAX_DESCRIPTION_BYTES, description: 'Markdown; raw HTML and script links are refused' }),
  categories: Type.Array(Type.String({ maxLength: 40 }), { maxItems: 5, uniqueItems: true, description: 'From GET /api/marketplace/categories' }),
  icon_url: Url('The app’s icon'),
  homepage_url: Url('The app’s home page'),
  support_url: Url('Where stores get help'),
  privacy_url: Url('The app’s privacy policy'),
  version: Type.String({ maxLength: 64, description: 'Semantic version; each publish must be greater than the last' }),
  webhook_url: Url('Where every installation’s deliveries go'),
  events: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 100, uniqueItems: true }),
  permissions: Type.Array(PermissionRequest, { maxItems: PERMISSIONS.length }),
  config_schema: Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema 2020-12 of the installation config (a subset: see docs/apps.md)' }),
  listed: Type.Boolean({ description: 'false: installable by slug only (private distribution)' }),
}

export const CreateAppBody = Type.Object(
  {
    slug: Type.String({ minLength: 1, maxLength: 64, pattern: SLUG_PATTERN }),
    name: manifest.name,
    tagline: Type.Optional(manifest.tagline),
    description: Type.Optional(manifest.description),
    categories: Type.Optional(manifest.categories),
    icon_url: Type.Optional(manifest.icon_url),
    homepage_url: Type.Optional(manifest.homepage_url),
    support_url: Type.Optional(manifest.support_url),
    privacy_url: Type.Optional(manifest.privacy_url),
    version: manifest.version,
    webhook_url: manifest.webhook_url,
    events: Type.Optional(manifest.events),
    permissions: Type.Optional(manifest.permissions),
    config_schema: Type.Optional(manifest.config_schema),
    listed: Type.Optional(manifest.listed),
  },
  { additionalProperties: false },
)
export type CreateAppBody = Static<typeof CreateAppBody>

/** A new version: the whole manifest again (what is left out takes its default, as at creation). */
export const PublishAppBody = Type.Omit(CreateAppBody, ['slug'], { additionalProperties: false })
export type PublishAppBody = Static<typeof PublishAppBody>

export const AppSlugParams = Type.Object({ slug: Type.String({ maxLength: 64, pattern: SLUG_PATTERN }) })

const PermissionResponse = Type.Object({ permission: Type.String(), purpose: Type.String() })

export const AppResponse = Type.Object({
  id: Type.String({ format: 'uuid' }),
  slug: Type.String(),
  name: Type.String(),
  tagline: Type.String(),
  description: Type.String(),
  categories: Type.Array(Type.String()),
  icon_url: Type.Union([Type.String(), Type.Null()]),
  homepage_url: Type.Union([Type.String(), Type.Null()]),
  support_url: Type.Union([Type.String(), Type.Null()]),
  privacy_url: Type.Union([Type.String(), Type.Null()]),
  version: Type.String(),
  webhook_url: Type.String(),
  events: Type.Array(Type.String()),
  permissions: Type.Array(PermissionResponse),
  config_schema: Type.Record(Type.String(), Type.Unknown()),
  listed: Type.Boolean(),
  client_id: Type.String({ description: 'The app’s public id; with its client_secret, HTTP Basic for access tokens' }),
  installs: Type.Integer({ description: 'Live installations' }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})

export const AppCredentials = Type.Object({
  client_secret: Type.String({ description: 'Shown this once; only its hash is kept' }),
  signing_secret: Type.String({ description: 'whsec_…: signs every delivery to any installation (Standard Webhooks)' }),
})

export const RotatedClientSecret = Type.Object({
  client_id: Type.String(),
  client_secret: Type.String({ description: 'The new secret, shown this once' }),
  previous_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'Until when the secret it replaced keeps working',
  }),
})
