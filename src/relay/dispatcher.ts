import type { Logger } from 'pino'
import type pg from 'pg'
import type { Config } from '../config.ts'
import { retryDelayMs } from './backoff.ts'
import { webhookHeaders } from './headers.ts'
import { createWebhookClient, type Outcome, type WebhookClient } from './http-client.ts'
import { USER_AGENT } from './headers.ts'
import type { Claimed } from './sql/claim.ts'
import { OutcomeRecorder } from './outcome-recorder.ts'

export type FinalStatus = 'sent' | 'retry' | 'failed' | 'released'

export interface Delivered {
  status: FinalStatus
  outcome: Outcome
}

type DispatchConfig = Pick<
  Config,
  'WEBHOOK_TIMEOUT_MS' | 'WEBHOOK_MAX_RETRIES' | 'WEBHOOK_RETRY_BASE_MS' | 'WEBHOOK_MAX_RESPONSE_BYTES' | 'RELAY_CONCURRENCY'
>

/**
 * Delivers one claimed delivery: signs and POSTs it, decides what follows (sent,
 * retry later, failed for good) and records the attempt. Shared by the relay loop,
 * `POST /api/plugins/events` and the connectivity test.
 */
export class Dispatcher {
  readonly client: WebhookClient
  readonly recorder: OutcomeRecorder

  constructor(
    pool: pg.Pool,
    private readonly config: DispatchConfig,
    private readonly log: Logger,
  ) {
    this.client = createWebhookClient({
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      maxResponseBytes: config.WEBHOOK_MAX_RESPONSE_BYTES,
      userAgent: USER_AGENT,
      maxSockets: config.RELAY_CONCURRENCY,
    })
    this.recorder = new OutcomeRecorder(pool, log)
  }

  /** `lastAttempt`: no retry follows a failure (the connectivity test). */
  async deliver(row: Claimed, leaseId: string, options: { signal?: AbortSignal; lastAttempt?: boolean } = {}): Promise<Delivered> {
    const { signal } = options
    const attempt = row.attempts + 1
    const outcome = await this.client.post(row.webhook_url, webhookHeaders(row.id, row.type), row.body, signal)
    if (signal?.aborted && !outcome.ok) {
      // cut off by shutdown: we cannot know whether it arrived, so it goes back due now
      await this.recorder.release({ id: row.id, leaseId })
      return { status: 'released', outcome }
    }
    const exhausted = options.lastAttempt || attempt > this.config.WEBHOOK_MAX_RETRIES
    const status = outcome.ok ? 'sent' : exhausted ? 'failed' : 'retry'
    const delayMs = status === 'retry' ? retryDelayMs(attempt, this.config.WEBHOOK_RETRY_BASE_MS) : 0
    const current = await this.recorder.record({
      id: row.id,
      leaseId,
      attempt,
      statusCode: outcome.statusCode,
      error: outcome.error,
      durationMs: outcome.durationMs,
      status,
      delayMs,
    })
    const fields = { plugin: row.slug, event: row.type, delivery: row.id, attempt, status_code: outcome.statusCode, duration_ms: outcome.durationMs }
    if (!current) {
      this.log.warn(fields, `lease of delivery ${row.id} was lost before its outcome was recorded; a newer claim owns it`)
    } else if (outcome.ok) {
      this.log.info(fields, `✅ Webhook sent successfully to ${row.slug}`)
    } else {
      this.log.warn({ ...fields, error: outcome.error, status, retry_in_ms: delayMs || undefined }, `❌ Webhook failed for ${row.slug}: ${outcome.error}`)
    }
    return { status, outcome }
  }

  async close(): Promise<void> {
    await this.recorder.drain()
    this.client.close()
  }
}
