import type { Database } from '../db/database.ts'
import type { App, Installation } from '../db/schema.ts'
import type { AppConfigUpdatedData, AppInstalledData, AppPermissionsUpdatedData, AppUninstalledData } from '../events/schemas/app.ts'
import type { AppEventName } from '../events/catalog.ts'
import { emitTo } from '../outbox/emit-to.ts'
import type { SecretCipher } from '../secrets/cipher.ts'
import { secretValues } from './install-config.ts'
import { seal } from './sealed-config.ts'

type Data = {
  'app.installed': AppInstalledData
  'app.config_updated': AppConfigUpdatedData
  'app.permissions_updated': AppPermissionsUpdatedData
  'app.uninstalled': AppUninstalledData
}

/** Sends one lifecycle event to the installation's own plugin only, through the outbox (inside the caller's transaction). */
export function deliverLifecycle<N extends AppEventName>(trx: Database, installation: Installation, type: N, data: Data[N]) {
  return emitTo(trx, installation.tenant_id, installation.plugin_id, type, data)
}

/** The installation's config as the app receives it: writeOnly values sealed for the app (sealed-config.ts). */
export function configForApp(cipher: SecretCipher, app: App, installation: Installation): Record<string, unknown> {
  const secrets = secretValues(cipher, installation.secret_config)
  if (Object.keys(secrets).length === 0) return installation.config
  const signingSecret = cipher.decrypt(app.signing_secret)
  const sealed = Object.fromEntries(Object.entries(secrets).map(([key, value]) => [key, seal(signingSecret, value)]))
  return { ...installation.config, ...sealed }
}

export const about = (app: App, i: Installation) => ({ installation_id: i.id, tenant_id: i.tenant_id, app: app.slug })
