import { sql, type RawBuilder } from 'kysely'
import type { Database } from '../db/database.ts'
import { UUID } from '../db/keyset.ts'
import { ValidationError } from '../errors.ts'
import { words } from '../apps/search-text.ts'
import { correctWords } from './typos.ts'

export type Sort = 'relevance' | 'popular' | 'rating' | 'newest' | 'name'

export interface SearchInput {
  q?: string
  category?: string
  sort?: Sort
  limit: number
  cursor?: string
}

export interface Listing {
  id: string
  slug: string
  name: string
  tagline: string
  categories: string[]
  icon_url: string | null
  version: string
  installs: number
  rating: string
  review_count: number
  created_at: Date
  name_match: boolean
  rank: number
  lower_name: string
}

/** The cursor of a page: the sort it belongs to and its last row's sort key, opaque to clients. */
const encode = (sort: Sort, key: unknown[]) => Buffer.from(JSON.stringify([sort, ...key])).toString('base64url')

function decode(sort: Sort, cursor: string): unknown[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    parsed = null
  }
  const key = Array.isArray(parsed) && parsed[0] === sort ? parsed.slice(1) : []
  const id = key.at(-1)
  if (key.length !== SHAPES[sort].length + 1 || typeof id !== 'string' || !UUID.test(id) || !SHAPES[sort].every((ok, i) => ok(key[i]))) {
    throw new ValidationError('INVALID_CURSOR', 'cursor is not one this API returned for this sort')
  }
  return key
}

// what each sort's cursor holds before its id: checked here, so nothing a client makes up reaches a cast in SQL
const SHAPES: Record<Sort, ((v: unknown) => boolean)[]> = {
  relevance: [(v) => typeof v === 'boolean', (v) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1e30],
  popular: [(v) => Number.isInteger(v) && Math.abs(v as number) < 2 ** 31],
  rating: [(v) => typeof v === 'string' && /^\d(\.\d{1,2})?$/.test(v)],
  newest: [(v) => typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/.test(v) && !Number.isNaN(Date.parse(v))],
  name: [(v) => typeof v === 'string' && v.length <= 200 && !v.includes('\u0000')],
}

const keyOf = (sort: Sort, r: Listing): unknown[] => {
  switch (sort) {
    case 'relevance':
      return [r.name_match, r.rank, r.id]
    case 'popular':
      return [r.installs, r.id]
    case 'rating':
      return [r.rating, r.id]
    case 'newest':
      return [r.created_at.toISOString(), r.id]
    case 'name':
      return [r.lower_name, r.id]
  }
}

const NAME_MATCH = sql`(to_tsvector('english', a.name) @@ q.query)`
const RANK = sql`ts_rank(a.search, q.query)`

/** ORDER BY and the keyset condition of each sort: every one ends on the id, so pages never overlap or skip. */
function ordering(sort: Sort, key: unknown[] | null): { order: RawBuilder<unknown>; after: RawBuilder<unknown> } {
  const k = (i: number) => key?.[i] ?? null
  switch (sort) {
    case 'relevance':
      return {
        order: sql`${NAME_MATCH} desc, ${RANK} desc, a.id desc`,
        after: sql`(${NAME_MATCH}, ${RANK}, a.id) < (${k(0)}::boolean, ${k(1)}::real, ${k(2)}::uuid)`,
      }
    case 'popular':
      return { order: sql`a.installs desc, a.id desc`, after: sql`(a.installs, a.id) < (${k(0)}::integer, ${k(1)}::uuid)` }
    case 'rating':
      return { order: sql`a.rating desc, a.id desc`, after: sql`(a.rating, a.id) < (${k(0)}::numeric, ${k(1)}::uuid)` }
    case 'newest':
      return { order: sql`a.created_at desc, a.id desc`, after: sql`(a.created_at, a.id) < (${k(0)}::timestamptz, ${k(1)}::uuid)` }
    case 'name':
      return { order: sql`lower(a.name), a.id`, after: sql`(lower(a.name), a.id) > (${k(0)}::text, ${k(1)}::uuid)` }
  }
}

export interface SearchResult {
  apps: Listing[]
  nextCursor: string | null
  facets: { category: string; count: number }[]
  /** the query as searched, after typo correction; null without q */
  searched: string | null
}

/**
 * The marketplace: listed apps only, by PostgreSQL full-text search (weighted:
 * name, then tagline and categories, then description) with typo correction
 * (typos.ts), name matches ranked first; filtered by category, sorted, paged by
 * keyset; with the category facets of the query. Every filter and sort reads a
 * partial index of listed apps (db/0011_apps.sql).
 */
export async function searchApps(db: Database, input: SearchInput): Promise<SearchResult> {
  const queryWords = input.q ? words(input.q).slice(0, 8) : []
  const { words: searchedWords } = await correctWords(db, queryWords)
  const text = searchedWords.length > 0 ? searchedWords.join(' ') : null
  const sort: Sort = input.sort === 'relevance' && text === null ? 'popular' : (input.sort ?? (text === null ? 'popular' : 'relevance'))
  const { order, after } = ordering(sort, input.cursor ? decode(sort, input.cursor) : null)
  const matches = text === null ? sql`true` : sql`a.search @@ q.query`
  const inCategory = input.category === undefined ? sql`true` : sql`a.categories @> array[${input.category}]::text[]`
  const query = sql`(select plainto_tsquery('english', ${text ?? ''}) as query)`
  const { rows } = await sql<Listing>`
    select a.id, a.slug, a.name, a.tagline, a.categories, a.icon_url, a.version, a.installs, a.rating, a.review_count,
           a.created_at, ${NAME_MATCH} as name_match, ${RANK} as rank, lower(a.name) as lower_name
      from apps a cross join ${query} q
     where a.listed and ${matches} and ${inCategory} and ${input.cursor ? after : sql`true`}
     order by ${order}
     limit ${input.limit + 1}
  `.execute(db)
  const { rows: facets } = await sql<{ category: string; count: number }>`
    select c as category, count(*)::integer as count
      from apps a cross join ${query} q cross join unnest(a.categories) c
     where a.listed and ${matches}
     group by c
     order by count desc, c
  `.execute(db)
  const page = rows.slice(0, input.limit)
  const last = page.at(-1)
  return { apps: page, nextCursor: rows.length > input.limit && last ? encode(sort, keyOf(sort, last)) : null, facets, searched: text }
}
