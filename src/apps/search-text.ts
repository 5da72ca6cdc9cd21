import { sql } from 'kysely'
import type { Database } from '../db/database.ts'
import { CATEGORIES } from './permissions.ts'
import type { Manifest } from './manifest.ts'

const categoryNames = (slugs: string[]) => slugs.map((s) => CATEGORIES.find((c) => c.slug === s)?.name ?? s).join(' ')

/**
 * The app's search document: name (weight A) ranks above tagline and categories
 * (B), above the description (C). Computed by PostgreSQL with the row's write.
 */
export const searchVector = (m: Manifest) => sql`
  setweight(to_tsvector('english', ${m.name}), 'A')
  || setweight(to_tsvector('english', ${`${m.tagline} ${categoryNames(m.categories)}`}), 'B')
  || setweight(to_tsvector('english', ${m.description}), 'C')`

/** Query words and vocabulary words alike: lowercase letters and digits, 2 to 40 of them. */
export function words(text: string): string[] {
  return [...new Set(text.toLowerCase().match(/[\p{L}\p{N}]{2,40}/gu) ?? [])]
}

/** Adds the manifest's words to the vocabulary typo correction looks in (it only grows). */
export async function addVocabulary(db: Database, m: Manifest): Promise<void> {
  const vocabulary = words(`${m.name} ${m.tagline} ${categoryNames(m.categories)} ${m.description}`).slice(0, 5000)
  if (vocabulary.length === 0) return
  await sql`insert into app_search_words (word) select unnest(${vocabulary}::text[]) on conflict do nothing`.execute(db)
}
