import fp from 'fastify-plugin'

/** Until API keys arrive, every request acts as the spec's default tenant. */
export const DEFAULT_TENANT = '11111111-1111-1111-1111-111111111111'

/** The one place a request's tenant is decided. */
export const tenant = fp(
  async (app) => {
    app.decorateRequest('tenantId', '')
    app.addHook('onRequest', async (request) => {
      request.tenantId = DEFAULT_TENANT
    })
  },
  { name: 'tenant' },
)
