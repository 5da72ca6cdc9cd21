import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type pg from 'pg'
import type { Config } from '../config.ts'
import { countAttempt } from '../metrics/process-metrics.ts'
import { addressPolicy } from '../net/guard.ts'
import { SecretDecryptionError } from '../secrets/cipher.ts'
import type { SigningKeys } from '../secrets/signing-keys.ts'
import { InvalidSecretError } from '../webhooks/signature.ts'
import { nextStep } from './retry-policy.ts'
import { signedWebhookHeaders } from './headers.ts'
import { createWebhookClient, type Outcome, type WebhookClient } from './http-client.ts'
import { USER_AGENT } from './headers.ts'
import type { Claimed } from './sql/claim.ts'
import { OutcomeRecorder } from './outcome-recorder.ts'

export type FinalStatus = 'sent' | 'retry' | 'failed' | 'released'

export interface Delivered {
  status: FinalStatus
  outcome: Outcome
  /** for 'retry': when the next attempt is due */
  delayMs: number
}

export type DispatchConfig = Pick<
  Config,
  | 'WEBHOOK_TIMEOUT_MS'
  | 'WEBHOOK_MAX_RETRIES'
  | 'WEBHOOK_RETRY_BASE_MS'
  | 'WEBHOOK_MAX_RESPONSE_BYTES'
  | 'RELAY_CONCURRENCY'
  | 'ALLOW_PRIVATE_WEBHOOKS'
  | 'HTTPS_ONLY'
  | 'RETRY_AFTER_MAX_MS'
  | 'PLUGIN_DISABLE_AFTER_FAILURES'
  | 'PLUGIN_DISABLE_AFTER_DAYS'
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
    private readonly signingKeys: SigningKeys,
  ) {
    this.client = createWebhookClient({
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      maxResponseBytes: config.WEBHOOK_MAX_RESPONSE_BYTES,
      userAgent: USER_AGENT,
      maxSockets: config.RELAY_CONCURRENCY,
      policy: addressPolicy(config),
    })
    this.recorder = new OutcomeRecorder(pool, log, {
      afterFailures: config.PLUGIN_DISABLE_AFTER_FAILURES,
      afterDays: config.PLUGIN_DISABLE_AFTER_DAYS,
    })
  }

  /** `lastAttempt`: no retry follows a failure (the connectivity test). */
  async deliver(row: Claimed, leaseId: string, options: { signal?: AbortSignal; lastAttempt?: boolean } = {}): Promise<Delivered> {
    const { signal } = options
    const attempt = row.attempts + 1
    const outcome = await this.send(row, signal)
    if (signal?.aborted && !outcome.ok) {
      // cut off by shutdown: we cannot know whether it arrived, so it goes back due now
      await this.recorder.release({ id: row.id, leaseId })
      return { status: 'released', outcome, delayMs: 0 }
    }
    const { status, delayMs, disableReason } = nextStep(outcome, attempt, row.retry_policy, this.config, options)
    const current = await this.recorder.record({
      id: row.id,
      pluginId: row.plugin_id,
      leaseId,
      attempt,
      statusCode: outcome.statusCode,
      error: outcome.error,
      durationMs: outcome.durationMs,
      status,
      delayMs,
      disableReason,
    })
    countAttempt(row.slug, row.type, status, outcome.durationMs)
    const fields = { plugin: row.slug, event: row.type, delivery: row.id, attempt, status_code: outcome.statusCode, duration_ms: outcome.durationMs }
    if (!current) {
      this.log.warn(fields, `lease of delivery ${row.id} was lost before its outcome was recorded; a newer claim owns it`)
    } else if (disableReason) {
      this.log.warn({ ...fields, reason: disableReason }, `⛔ Plugin ${row.slug} disabled: ${disableReason}`)
    } else if (outcome.ok) {
      this.log.info(fields, `✅ Webhook sent successfully to ${row.slug}`)
    } else {
      this.log.warn({ ...fields, error: outcome.error, status, retry_in_ms: delayMs || undefined }, `❌ Webhook failed for ${row.slug}: ${outcome.error}`)
    }
    return { status, outcome, delayMs }
  }

  /** Signs and POSTs one attempt. A delivery that cannot be signed is not sent: it fails with the reason. */
  private async send(row: Claimed, signal?: AbortSignal): Promise<Outcome> {
    let headers: Record<string, string>
    try {
      headers = signedWebhookHeaders(row.id, row.type, await this.signingKeys.keysFor(row.plugin_id, row.secrets), row.body)
    } catch (error) {
      if (!(error instanceof SecretDecryptionError || error instanceof InvalidSecretError)) throw error
      return { ok: false, statusCode: null, error: `not sent, cannot sign: ${error.message}`, durationMs: 0 }
    }
    return this.client.post(row.webhook_url, headers, row.body, signal)
  }

  /**
   * Writes what is queued, for at most `graceMs` (a database that is gone must not
   * hold shutdown): then what is left is dropped, and those deliveries are
   * delivered again when their lease runs out.
   */
  async close(graceMs = 5000): Promise<void> {
    const timer = new AbortController()
    const drained = await Promise.race([
      this.recorder.drain().then(() => true),
      sleep(graceMs, false, { signal: timer.signal }).catch(() => false),
    ])
    timer.abort()
    if (!drained) this.recorder.abandon()
    this.client.close()
  }
}
