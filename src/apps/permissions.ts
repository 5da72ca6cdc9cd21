/**
 * What an app may be granted in a store, and what each store route needs. The one
 * place a route's permission is declared: src/installations/permission-hook.ts
 * enforces it for installation tokens, and a route missing here is closed to them
 * (keys, plugins, installations, the marketplace's write side: never an app's).
 */
export const PERMISSIONS = [
  'products:read',
  'products:write',
  'orders:read',
  'orders:write',
  'customers:read',
  'customers:write',
  'inventory:read',
  'inventory:write',
] as const
export type Permission = (typeof PERMISSIONS)[number]

const known = new Set<string>(PERMISSIONS)
export const isPermission = (name: string): name is Permission => known.has(name)

/** write implies read: a grant of `orders:write` also reads orders. */
export function grants(granted: readonly string[], needed: Permission): boolean {
  if (granted.includes(needed)) return true
  return needed.endsWith(':read') && granted.includes(needed.replace(/:read$/, ':write'))
}

/** The read permission an event family needs: `order.*` → `orders:read`. */
export function permissionForEvent(event: string): Permission | undefined {
  const family = event.split('.')[0]
  const needed = `${family === 'inventory' ? 'inventory' : `${family}s`}:read`
  return isPermission(needed) ? needed : undefined
}

/** Store routes as Fastify registers them ('METHOD /url') → the permission they need. */
export const ROUTE_PERMISSIONS: Readonly<Record<string, Permission>> = {
  'GET /api/products': 'products:read',
  'GET /api/products/:id': 'products:read',
  'POST /api/products': 'products:write',
  'PUT /api/products/:id': 'products:write',
  'PATCH /api/products/:id': 'products:write',
  'DELETE /api/products/:id': 'products:write',
  'PUT /api/products/:id/inventory': 'inventory:write',
  'GET /api/customers': 'customers:read',
  'GET /api/customers/:id': 'customers:read',
  'POST /api/customers': 'customers:write',
  'PUT /api/customers/:id': 'customers:write',
  'PATCH /api/customers/:id': 'customers:write',
  'DELETE /api/customers/:id': 'customers:write',
  'GET /api/orders': 'orders:read',
  'GET /api/orders/:id': 'orders:read',
  'POST /api/orders': 'orders:write',
  'POST /api/orders/:id/pay': 'orders:write',
  'POST /api/orders/:id/ship': 'orders:write',
  'POST /api/orders/:id/deliver': 'orders:write',
  'POST /api/orders/:id/cancel': 'orders:write',
}

/** The marketplace's fixed list of categories (GET /api/marketplace/categories). */
export const CATEGORIES = [
  { slug: 'analytics', name: 'Analytics' },
  { slug: 'inventory', name: 'Inventory' },
  { slug: 'marketing', name: 'Marketing' },
  { slug: 'shipping', name: 'Shipping' },
  { slug: 'customer-service', name: 'Customer service' },
  { slug: 'accounting', name: 'Accounting' },
  { slug: 'sales-channels', name: 'Sales channels' },
  { slug: 'productivity', name: 'Productivity' },
] as const
const categorySlugs = new Set<string>(CATEGORIES.map((c) => c.slug))
export const isCategory = (slug: string): boolean => categorySlugs.has(slug)
