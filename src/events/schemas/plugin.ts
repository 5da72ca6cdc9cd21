import { Type, type Static } from '@sinclair/typebox'

/** The `data` of `plugin.test`, sent by `POST /api/plugins/:slug/test` (src/plugins/plugin.test-delivery.ts). */
export const PluginTestData = Type.Object(
  {
    plugin: Type.String({ description: 'The slug of the plugin the test was sent to' }),
    message: Type.String({ description: 'A human-readable note; not meant to be parsed' }),
  },
  { additionalProperties: false, description: 'plugin.test: a connectivity test; answer 2xx and ignore it' },
)
export type PluginTestData = Static<typeof PluginTestData>
