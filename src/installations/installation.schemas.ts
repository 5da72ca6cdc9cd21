import { Type } from '@sinclair/typebox'
import type { App, Installation } from '../db/schema.ts'
import { secretProperties } from '../apps/config-schema.ts'
import { pluginSlugOf } from './installation.repository.ts'

export const InstallationResponse = Type.Object({
  id: Type.String({ format: 'uuid' }),
  app: Type.Object({ slug: Type.String(), name: Type.String(), latest_version: Type.String() }),
  status: Type.String({ description: 'active or uninstalled' }),
  version: Type.String({ description: 'The version the installation runs' }),
  permissions: Type.Array(Type.String(), { description: 'Granted' }),
  pending_version: Type.Union([Type.String(), Type.Null()]),
  pending_permissions: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'Asked for by pending_version: POST …/approve grants them' }),
  config: Type.Record(Type.String(), Type.Unknown(), { description: 'The config without its writeOnly values' }),
  secret_config_keys: Type.Array(Type.String(), { description: 'writeOnly values that are set (never shown)' }),
  plugin: Type.String({ description: 'The slug of its webhook subscription in GET /api/plugins' }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
})

/** One installation, with the config schema of the version it runs: what its settings form is made from. */
export const InstallationDetail = Type.Composite([
  InstallationResponse,
  Type.Object({ config_schema: Type.Record(Type.String(), Type.Unknown(), { description: 'The config_schema of `version` (not necessarily the app’s latest)' }) }),
])

export const InstallationParams = Type.Object({ id: Type.String({ format: 'uuid' }) })

export const UpdateInstallationBody = Type.Object(
  {
    config: Type.Record(Type.String(), Type.Unknown(), {
      description: 'The whole config; a writeOnly value left out keeps its stored value',
    }),
  },
  { additionalProperties: false },
)

export const ApproveBody = Type.Object(
  {
    config: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'The config for the new version, when it asks for settings the current config lacks' }),
    ),
  },
  { additionalProperties: false },
)

export function installationJson(app: Pick<App, 'slug' | 'name' | 'version'>, i: Installation, secretKeys: string[]) {
  return {
    id: i.id,
    app: { slug: app.slug, name: app.name, latest_version: app.version },
    status: i.status,
    version: i.version,
    permissions: i.permissions,
    pending_version: i.pending_version,
    pending_permissions: i.pending_permissions,
    config: i.config,
    secret_config_keys: secretKeys,
    plugin: pluginSlugOf(app.slug),
    created_at: i.created_at.toISOString(),
    updated_at: i.updated_at.toISOString(),
  }
}

export { secretProperties }
