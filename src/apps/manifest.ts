import type { Config } from '../config.ts'
import { AppError, ValidationError } from '../errors.ts'
import { isEventName } from '../events/catalog.ts'
import { assertSafeWebhookUrl } from '../net/guard.ts'
import type { PublishAppBody } from './app.schemas.ts'
import { MAX_DESCRIPTION_BYTES } from './app.schemas.ts'
import { checkConfigSchema, ConfigSchemaProblem } from './config-schema.ts'
import { markdownProblem } from './markdown.ts'
import { CATEGORIES, grants, isCategory, isPermission, permissionForEvent } from './permissions.ts'
import { isSemver } from './semver.ts'

/** A manifest with every optional field filled in, as it is stored. */
export interface Manifest {
  name: string
  tagline: string
  description: string
  categories: string[]
  icon_url: string | null
  homepage_url: string | null
  support_url: string | null
  privacy_url: string | null
  version: string
  webhook_url: string
  events: string[]
  permissions: { permission: string; purpose: string }[]
  config_schema: Record<string, unknown>
  listed: boolean
}

/** PostgreSQL's text and jsonb cannot hold U+0000: refused up front, as a 400 rather than a failed insert. */
export const hasNul = (value: unknown): boolean => JSON.stringify(value).includes('\\u0000')

export const EMPTY_CONFIG_SCHEMA = { type: 'object', properties: {} }

/**
 * Everything about a manifest that its JSON Schema cannot say, checked before
 * anything is written: each problem a 400 with its own code.
 */
export function checkManifest(body: PublishAppBody, config: Pick<Config, 'ALLOW_PRIVATE_WEBHOOKS' | 'HTTPS_ONLY'>): Manifest {
  if (hasNul(body)) throw new ValidationError('INVALID_INPUT', 'The manifest must not contain NUL characters')
  if (!isSemver(body.version)) throw new ValidationError('INVALID_VERSION', `version '${body.version}' is not a semantic version (e.g. 1.4.0)`)
  const description = body.description ?? ''
  if (Buffer.byteLength(description) > MAX_DESCRIPTION_BYTES) throw new ValidationError('TOO_LARGE', `description must be at most ${MAX_DESCRIPTION_BYTES / 1024} KiB`)
  const unsafe = markdownProblem(description)
  if (unsafe) throw new ValidationError('UNSAFE_MARKDOWN', `description is refused: ${unsafe}`)
  const categories = body.categories ?? []
  const unknownCategories = categories.filter((c) => !isCategory(c))
  if (unknownCategories.length > 0) {
    throw new ValidationError('UNKNOWN_CATEGORY', `Unknown categories: ${unknownCategories.join(', ')} (one of ${CATEGORIES.map((c) => c.slug).join(', ')})`)
  }
  const permissions = body.permissions ?? []
  const unknownPermissions = permissions.map((p) => p.permission).filter((p) => !isPermission(p))
  if (unknownPermissions.length > 0) throw new ValidationError('UNKNOWN_PERMISSION', `Unknown permissions: ${unknownPermissions.join(', ')}`)
  const names = permissions.map((p) => p.permission)
  if (new Set(names).size !== names.length) throw new ValidationError('DUPLICATE_PERMISSION', 'Each permission may be requested once')
  const events = body.events ?? []
  const unknownEvents = events.filter((e) => !isEventName(e))
  if (unknownEvents.length > 0) throw new ValidationError('UNKNOWN_EVENT', `Unknown event types: ${unknownEvents.join(', ')} (see GET /api/event-types)`)
  const uncovered = events.filter((e) => !grants(names, permissionForEvent(e)!))
  if (uncovered.length > 0) {
    const needed = [...new Set(uncovered.map((e) => permissionForEvent(e)!))]
    throw new AppError(400, 'PERMISSION_REQUIRED_FOR_EVENT', `Events ${uncovered.join(', ')} need the permission(s) ${needed.join(', ')}`, {
      events: uncovered,
      permissions: needed,
    })
  }
  const schema = body.config_schema ?? EMPTY_CONFIG_SCHEMA
  try {
    checkConfigSchema(schema)
  } catch (error) {
    if (!(error instanceof ConfigSchemaProblem)) throw error
    throw new AppError(400, 'INVALID_CONFIG_SCHEMA', `config_schema${error.pointer}: ${error.message}`, { pointer: error.pointer })
  }
  assertSafeWebhookUrl(body.webhook_url, config)
  return {
    name: body.name,
    tagline: body.tagline ?? '',
    description,
    categories,
    icon_url: body.icon_url ?? null,
    homepage_url: body.homepage_url ?? null,
    support_url: body.support_url ?? null,
    privacy_url: body.privacy_url ?? null,
    version: body.version,
    webhook_url: body.webhook_url,
    events,
    permissions,
    config_schema: schema,
    listed: body.listed ?? false,
  }
}
