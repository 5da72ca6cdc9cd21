import { DAY, type Config } from '../config.ts'
import type { RetryPolicy } from '../db/schema.ts'
import { retryDelayMs } from './backoff.ts'
import type { Outcome } from './http-client.ts'

export type PolicyConfig = Pick<Config, 'WEBHOOK_MAX_RETRIES' | 'WEBHOOK_RETRY_BASE_MS' | 'RETRY_AFTER_MAX_MS'>

export interface NextStep {
  status: 'sent' | 'retry' | 'failed'
  /** for 'retry': how long until the next attempt */
  delayMs: number
  /** set when the answer means the plugin must stop receiving (410 Gone) */
  disableReason: string | null
}

/**
 * The longest one retry waits, however the delay came about: 4^14 × the backoff
 * base (max_retries 15) is decades, and a delay is stored as milliseconds in a
 * PostgreSQL integer, which stops at ~24.8 days. A week is also the longest a
 * plugin's own schedule may ask for.
 */
export const MAX_RETRY_DELAY_MS = 7 * DAY

/** ±10 % on a plugin's own schedule, so its retries after an outage do not all land at once. */
const SCHEDULE_JITTER = 0.1

/** How many retries follow the first attempt under this policy. */
export function maxRetries(policy: RetryPolicy | null, config: PolicyConfig): number {
  return policy?.schedule_seconds?.length ?? policy?.max_retries ?? config.WEBHOOK_MAX_RETRIES
}

/**
 * What follows an attempt. Any 2xx is sent. 410 Gone disables the plugin at once
 * (the delivery is kept and goes out if the plugin is enabled again). Otherwise a
 * retry while the policy has retries left: after the plugin's schedule, else after
 * the default exponential backoff, or later if a 429's or 503's Retry-After asks
 * for longer (capped at RETRY_AFTER_MAX_MS); then failed.
 */
export function nextStep(
  outcome: Outcome,
  attempt: number,
  policy: RetryPolicy | null,
  config: PolicyConfig,
  options: { lastAttempt?: boolean; random?: () => number } = {},
): NextStep {
  const random = options.random ?? Math.random
  if (outcome.ok) return { status: 'sent', delayMs: 0, disableReason: null }
  if (outcome.statusCode === 410 && !options.lastAttempt) {
    return { status: 'retry', delayMs: 0, disableReason: 'the endpoint answered 410 Gone' }
  }
  if (options.lastAttempt || attempt > maxRetries(policy, config)) return { status: 'failed', delayMs: 0, disableReason: null }
  const scheduled = policy?.schedule_seconds?.[attempt - 1]
  const planned =
    scheduled !== undefined
      ? Math.round(scheduled * 1000 * (1 - SCHEDULE_JITTER + 2 * SCHEDULE_JITTER * random()))
      : retryDelayMs(attempt, config.WEBHOOK_RETRY_BASE_MS, random)
  // a receiver's Retry-After may ask for more patience, never for less: the plan is its floor
  const delayMs =
    outcome.retryAfterMs !== undefined ? Math.max(planned, Math.min(outcome.retryAfterMs, config.RETRY_AFTER_MAX_MS)) : planned
  return { status: 'retry', delayMs: Math.min(delayMs, MAX_RETRY_DELAY_MS), disableReason: null }
}
