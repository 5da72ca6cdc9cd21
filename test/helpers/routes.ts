import type { FastifyInstance } from 'fastify'

/** Every route the app serves, as 'METHOD /path' (HEAD, which mirrors GET, left out), read from Fastify's route tree. */
export function registeredRoutes(app: FastifyInstance): string[] {
  const routes: string[] = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^(.*?)[├└]── (\S+)(?: \(([^)]*)\))?$/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    stack.length = depth
    const url = (stack[depth - 1] ?? '') + match[2]!
    stack.push(url)
    for (const method of (match[3] ?? '').split(', ')) if (method && method !== 'HEAD' && method !== '-') routes.push(`${method} ${url}`)
  }
  return routes
}
