import { sql } from 'kysely'
import { ValidationError } from '../errors.ts'

const ISO_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The cursor of a newest-first keyset page: the last row's (created_at, id),
 * opaque to clients. Rows written in one transaction share created_at; the id
 * breaks the tie.
 */
export const encodeCursor = (row: { created_at: Date; id: string }): string =>
  Buffer.from(`${row.created_at.toISOString()}|${row.id}`).toString('base64url')

export function decodeCursor(cursor: string): [at: string, id: string] {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  // exactly what encodeCursor writes: anything else (`1|…`, year 0000) would reach SQL as a timestamp it refuses
  if (!at || !id || !UUID.test(id) || !ISO_INSTANT.test(at) || at.startsWith('0000') || Number.isNaN(Date.parse(at)) || new Date(at).toISOString() !== at) {
    throw new ValidationError('INVALID_CURSOR', 'cursor is not one this API returned')
  }
  return [at, id]
}

/** The keyset condition of a page after `cursor`: rows older than its last row. */
export function olderThan(cursor: string) {
  const [at, id] = decodeCursor(cursor)
  return sql<boolean>`(created_at, id) < (${at}::timestamptz, ${id}::uuid)`
}

/** A page from a query that asked for `limit + 1` rows: the rows, and the next page's cursor if there is one. */
export function pageOf<T extends { created_at: Date; id: string }>(rows: T[], limit: number): { page: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return { page, nextCursor: rows.length > limit && last ? encodeCursor(last) : null }
}
