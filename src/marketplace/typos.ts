import { sql } from 'kysely'
import type { Database } from '../db/database.ts'

/** Nearest vocabulary words (by trigram distance, through the GiST index) weighed for each unknown query word. */
const CANDIDATES = 10

/** Optimal string alignment distance: Levenshtein plus the transposition of two neighbours. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/** Edits a word of this length may carry and still be taken for another: none below 4 letters, 1 to 7, then 2, then 3. */
const tolerance = (length: number) => (length < 4 ? 0 : length < 8 ? 1 : length < 12 ? 2 : 3)

/**
 * Each query word the marketplace's vocabulary does not know is replaced by the
 * known word nearest to it: pg_trgm finds candidates (trigram distance, indexed),
 * edit distance picks among them ("analitycs" → "analytics": trigrams alone rank
 * "analysis" as close). Known words, and words with no near neighbour, stay.
 */
export async function correctWords(db: Database, words: string[]): Promise<{ words: string[]; corrected: boolean }> {
  if (words.length === 0) return { words, corrected: false }
  const { rows } = await sql<{ word: string; known: boolean; candidates: string[] }>`
    select q.word,
           exists (select 1 from app_search_words w where w.word = q.word) as known,
           array(select w.word from app_search_words w order by w.word <-> q.word limit ${CANDIDATES}) as candidates
      from unnest(${words}::text[]) with ordinality q(word, n)
     order by q.n
  `.execute(db)
  let corrected = false
  const out = rows.map((row) => {
    if (row.known) return row.word
    let best: string | null = null
    let bestDistance = tolerance(row.word.length) + 1
    for (const candidate of row.candidates) {
      const distance = editDistance(row.word, candidate)
      if (distance < bestDistance) {
        best = candidate
        bestDistance = distance
      }
    }
    if (best === null) return row.word
    corrected = true
    return best
  })
  return { words: out, corrected }
}
