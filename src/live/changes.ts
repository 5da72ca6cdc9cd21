/**
 * The channel that says which deliveries changed, for the live stream (the
 * relays' own channel, DELIVERY_CHANNEL, says only "look"). Its payload is kept
 * tiny, ids and one letter each: `"41s,42r,43f"`. Postgres caps a payload at
 * 8,000 bytes, so writers send at most CHANGES_PER_NOTIFY per notification.
 */
export const CHANGES_CHANNEL = 'bcs_delivery_changes'

/** 200 × at most 18 bytes (a 16-digit id, a letter, a comma): well under the 8,000-byte cap. */
export const CHANGES_PER_NOTIFY = 200

/** What happened to a delivery, as the stream names it. */
/**
 * `disabled`: this attempt disabled its plugin (410 Gone, or the last of a run of failures).
 * `requeued`: a redelivery was asked for (retry, recover). `cancelled`: it will not be delivered
 * (its plugin was deleted, or its app uninstalled).
 */
export type ChangeKind = 'created' | 'sent' | 'retry' | 'failed' | 'requeued' | 'disabled' | 'cancelled'

/**
 * The letters the SQL writers use: the first letter of the outcome status, `q` for a
 * requeue (retry, recover), `d` for an attempt that disabled its plugin, `c` for a cancel.
 */
const LETTERS: Record<string, ChangeKind> = { s: 'sent', r: 'retry', f: 'failed', q: 'requeued', d: 'disabled', c: 'cancelled' }

export interface Change {
  id: number
  kind: ChangeKind
}

/**
 * A horizon marker, `"<xid8>h"`: the hub sends one after each round, carrying the
 * oldest transaction still running when it was sent (pg_snapshot_xmin). Postgres
 * delivers notifications in commit order, so once a hub has received it, it has
 * received every notification of every transaction below that id (src/live/hub.ts).
 */
export interface Horizon {
  horizon: number
}

/** SQL that sends a horizon marker (src/live/hub.ts). */
export const HORIZON_MARKER_SQL = `select pg_notify('${CHANGES_CHANNEL}', pg_snapshot_xmin(pg_current_snapshot())::text || 'h')`

/** Parses a notification's payload; anything malformed in it is skipped, never thrown. */
export function parseChanges(payload: string | undefined): (Change | Horizon)[] {
  const marker = /^(\d{1,16})h$/.exec(payload ?? '')
  if (marker) return [{ horizon: Number(marker[1]) }]
  const changes: Change[] = []
  for (const item of (payload ?? '').split(',')) {
    const match = /^(\d{1,16})([a-z])$/.exec(item)
    const kind = match ? LETTERS[match[2]!] : undefined
    if (match && kind) changes.push({ id: Number(match[1]), kind })
  }
  return changes
}

/**
 * Tells the live stream about deliveries that changed outside the relay's outcome
 * statement, sent on commit: `ids` with one kind, chunked under the payload cap. For
 * a statement's `with` list: `notified as (select … from <cte>)`.
 */
export function notifyChangesSql(idsFrom: string, letter: 'q' | 'c'): string {
  return `select count(pg_notify('${CHANGES_CHANNEL}', chunk.changes)) as notifications
            from (select string_agg(x.id || '${letter}', ',') as changes
                    from (select id, (row_number() over ()) / ${CHANGES_PER_NOTIFY} as n from ${idsFrom}) x
                   group by x.n) chunk`
}
