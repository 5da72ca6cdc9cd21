import type { App } from '../db/schema.ts'

/** An app as its developer sees it (never its secrets). */
export function appJson(a: App) {
  return {
    id: a.id,
    slug: a.slug,
    name: a.name,
    tagline: a.tagline,
    description: a.description,
    categories: a.categories,
    icon_url: a.icon_url,
    homepage_url: a.homepage_url,
    support_url: a.support_url,
    privacy_url: a.privacy_url,
    version: a.version,
    webhook_url: a.webhook_url,
    events: a.events,
    permissions: a.permissions,
    config_schema: a.config_schema,
    listed: a.listed,
    client_id: a.client_id,
    installs: a.installs,
    created_at: a.created_at.toISOString(),
    updated_at: a.updated_at.toISOString(),
  }
}
