import { ValidationError } from '../errors.ts'

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
  if (!at || !id || !UUID.test(id) || Number.isNaN(Date.parse(at))) {
    throw new ValidationError('INVALID_CURSOR', 'cursor is not one this API returned')
  }
  return [at, id]
}
