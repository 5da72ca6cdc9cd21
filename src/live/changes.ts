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
/** `disabled`: this attempt disabled its plugin (410 Gone, or the last of a run of failures). */
export type ChangeKind = 'created' | 'sent' | 'retry' | 'failed' | 'requeued' | 'disabled'

/** The letters the SQL writers use: the first letter of the outcome status, `q` for a manual retry, `d` for an attempt that disabled its plugin. */
const LETTERS: Record<string, ChangeKind> = { s: 'sent', r: 'retry', f: 'failed', q: 'requeued', d: 'disabled' }

export interface Change {
  id: number
  kind: ChangeKind
}

/** Parses a notification's payload; anything malformed in it is skipped, never thrown. */
export function parseChanges(payload: string | undefined): Change[] {
  const changes: Change[] = []
  for (const item of (payload ?? '').split(',')) {
    const match = /^(\d{1,16})([a-z])$/.exec(item)
    const kind = match ? LETTERS[match[2]!] : undefined
    if (match && kind) changes.push({ id: Number(match[1]), kind })
  }
  return changes
}
