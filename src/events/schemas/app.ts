import { Type, type Static } from '@sinclair/typebox'

/**
 * The lifecycle events of an app installation (src/installations/lifecycle.ts).
 * They go to the app concerned only, need no subscription, and are signed with
 * the app's signing secret like every delivery to it.
 */
const installation = {
  installation_id: Type.String({ format: 'uuid', description: 'The installation: the id to ask access tokens for' }),
  tenant_id: Type.String({ format: 'uuid', description: 'The store that installed the app' }),
  app: Type.String({ description: 'The app’s slug' }),
}
const version = Type.String({ description: 'The app version the installation runs' })
const permissions = Type.Array(Type.String(), { description: 'The permissions the store granted' })
const config = Type.Record(Type.String(), Type.Unknown(), {
  description: 'The installation’s config, defaults applied; writeOnly values as `bcs_enc_v1:…`, encrypted for the app (see docs/apps.md)',
})

export const AppInstalledData = Type.Object(
  { ...installation, version, permissions, config },
  { additionalProperties: false, description: 'app.installed: a store installed the app' },
)
export type AppInstalledData = Static<typeof AppInstalledData>

export const AppConfigUpdatedData = Type.Object(
  { ...installation, version, config },
  { additionalProperties: false, description: 'app.config_updated: the store changed the installation’s config' },
)
export type AppConfigUpdatedData = Static<typeof AppConfigUpdatedData>

export const AppPermissionsUpdatedData = Type.Object(
  {
    ...installation,
    version,
    permissions,
    previous_permissions: Type.Array(Type.String(), { description: 'What was granted before' }),
  },
  { additionalProperties: false, description: 'app.permissions_updated: the installation moved to a version with other permissions' },
)
export type AppPermissionsUpdatedData = Static<typeof AppPermissionsUpdatedData>

export const AppUninstalledData = Type.Object(
  { ...installation },
  { additionalProperties: false, description: 'app.uninstalled: the store uninstalled the app; its tokens no longer work' },
)
export type AppUninstalledData = Static<typeof AppUninstalledData>
