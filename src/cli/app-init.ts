import fs from 'node:fs/promises'
import path from 'node:path'

/** A slug the server accepts, from a folder's name: 'My App!' → 'my-app'. */
export const slugOf = (name: string): string =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64) || 'my-app'

const HANDLER = `// @ts-check
// Your app's handler: \`bin/app dev\` verifies each delivery's signature, then calls
// this with the event. \`context.store()\` is a client of the store API for the
// store that sent the event (an installation token, minted and refreshed for
// you); its calls and their types: bettercallsold-plugins-sdk/store.
// Throwing answers 500, and the platform retries the delivery later.

/**
 * @param {import('bettercallsold-plugins-sdk/receiver').BetterCallSoldEvent} event
 * @param {{ store(): Promise<import('bettercallsold-plugins-sdk/store').StoreClient>, log(line: string): void }} context
 */
export default async function handle(event, context) {
  switch (event.event) {
    case 'app.installed':
      context.log(\`installed in store \${event.tenant_id}: installation \${event.data.installation_id}, permissions \${event.data.permissions.join(', ')}\`)
      return
    case 'product.created': {
      const store = await context.store()
      const product = await store.products.get(event.data.product_id)
      context.log(\`new product "\${product.name}" at \${product.price} (\${product.inventory_quantity} in stock)\`)
      return
    }
    case 'app.uninstalled':
      context.log(\`uninstalled from store \${event.tenant_id}\`)
      return
    default:
      context.log(\`\${event.event}: nothing to do\`)
  }
}
`

/** `bin/app init <dir>`: a new app folder with a manifest (app.json) that passes every check, and a handler. */
export async function initApp(dir: string, options: { slug?: string; name?: string; port: number }): Promise<string> {
  const existing: string[] = await fs.readdir(dir).catch(() => [])
  if (existing.includes('app.json')) throw new Error(`${path.join(dir, 'app.json')} exists already: not overwritten`)
  await fs.mkdir(dir, { recursive: true })
  const slug = options.slug ?? slugOf(path.basename(path.resolve(dir)))
  const name = options.name ?? slug.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase())
  const manifest = {
    slug,
    name,
    tagline: 'What it does, in a line',
    description: `# ${name}\n\nWhat it does for a store, in Markdown (no raw HTML).`,
    categories: ['productivity'],
    version: '0.1.0',
    webhook_url: `http://127.0.0.1:${options.port}/webhooks`,
    events: ['product.created'],
    permissions: [{ permission: 'products:read', purpose: 'Read the products it tells you about' }],
    config_schema: { type: 'object', properties: {} },
    listed: false,
  }
  await fs.writeFile(path.join(dir, 'app.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  await fs.writeFile(path.join(dir, 'handler.mjs'), HANDLER)
  await fs.writeFile(path.join(dir, '.gitignore'), '# written by bin/app publish: the app\'s secrets\n.credentials.json\n')
  return [
    `Created ${path.join(dir, 'app.json')} (the manifest of "${slug}") and ${path.join(dir, 'handler.mjs')}.`,
    'Next:',
    `  BCS_DEVELOPER_KEY=bcs_dev_… bin/app publish ${dir}`,
    `  bin/app dev ${dir}`,
  ].join('\n')
}
