import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { Dispatcher } from './dispatcher.ts'
import { claimDeliveries } from './sql/claim.ts'

export interface ProcessSummary {
  processed: number
  sent: number
  failed: number
  retry: number
}

/**
 * Delivers every delivery that is due now, in the caller's time (the spec's
 * "manually process pending webhooks"). Claims like any relay, so it runs safely
 * beside them; stops after `max` so one request cannot run without end.
 */
export async function processDue(
  pool: pg.Pool,
  dispatcher: Dispatcher,
  options: { batchSize: number; leaseMs: number; max: number; tenantId?: string; maxInFlight: number },
): Promise<ProcessSummary> {
  const summary: ProcessSummary = { processed: 0, sent: 0, failed: 0, retry: 0 }
  while (summary.processed < options.max) {
    const leaseId = randomUUID()
    const limit = Math.min(options.batchSize, options.max - summary.processed)
    const rows = await claimDeliveries(pool, limit, leaseId, options.leaseMs, options.tenantId ?? null, options.maxInFlight)
    if (rows.length === 0) break
    const statuses = await Promise.all(rows.map((row) => dispatcher.deliver(row, leaseId)))
    for (const { status } of statuses) {
      summary.processed++
      if (status === 'sent' || status === 'failed' || status === 'retry') summary[status]++
    }
  }
  return summary
}
