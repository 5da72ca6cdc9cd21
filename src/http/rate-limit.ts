import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { MINUTE } from '../config.ts'
import { AppError } from '../errors.ts'

/** How many distinct callers (keys and IPs) the in-memory limiter tracks; the least recent are forgotten first. */
const TRACKED_CALLERS = 10_000

/** Per API key, or per client IP for requests without a valid key (see tenant.ts for the order of hooks). */
export function rateLimitKey(request: FastifyRequest): string {
  return request.apiKey ? `key:${request.apiKey.id}` : `ip:${request.ip}`
}

/**
 * RATE_LIMIT_PER_MINUTE requests per minute per caller, in this process's
 * memory: a 429 with Retry-After beyond it. Must be registered before the routes
 * (the limiter hooks each route as it is added); 0 turns it off.
 */
export const rateLimits = fp(
  async (app) => {
    const max = app.ctx.config.RATE_LIMIT_PER_MINUTE
    if (max === 0) return
    await app.register(rateLimit, {
      max,
      timeWindow: MINUTE,
      cache: TRACKED_CALLERS,
      keyGenerator: rateLimitKey,
      errorResponseBuilder: (_request, context) =>
        new AppError(429, 'RATE_LIMITED', `Rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`),
    })
    // The limiter hooks routes; a URL no route matches has none, yet its key is looked
    // up all the same (tenant.ts). It spends from the same budget, so probing paths
    // or guessing keys on them is throttled like on any route.
    const limitUnmatched = app.rateLimit()
    app.addHook('onRequest', async (request, reply) => {
      if (request.is404) await limitUnmatched.call(app, request, reply)
    })
  },
  { name: 'rate-limits', dependencies: ['tenant'] },
)
