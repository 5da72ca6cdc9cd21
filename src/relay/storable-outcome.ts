import type { RecordedOutcome } from './sql/record-outcomes.ts'

/** The longest `last_error` / attempt error kept: enough for a status line and a useful excerpt. */
export const MAX_ERROR_CHARS = 1024
/** PostgreSQL's `integer`, the type of every number an outcome carries. */
const MAX_INTEGER = 2 ** 31 - 1

/**
 * Makes an outcome something PostgreSQL always accepts. Every field comes from a
 * receiver (its body, status, timing) or a configuration (its delays), and a
 * single outcome the database refuses would fail the whole batch it rides in:
 * - text: NUL (U+0000), the one character `text` cannot hold, becomes U+FFFD, as do
 *   unpaired surrogates; then it is cut to MAX_ERROR_CHARS;
 * - numbers: whole, finite and within `integer`; a delay that is not a number is
 *   the longest one (never "retry now", which would hammer the receiver).
 */
export function storableOutcome(outcome: RecordedOutcome): RecordedOutcome {
  return {
    ...outcome,
    attempt: int(outcome.attempt, 1, MAX_INTEGER, 1),
    statusCode: outcome.statusCode === null ? null : int(outcome.statusCode, 0, 999, null),
    error: storableText(outcome.error),
    durationMs: int(outcome.durationMs, 0, MAX_INTEGER, 0),
    delayMs: int(outcome.delayMs, 0, MAX_INTEGER, MAX_INTEGER),
    disableReason: storableText(outcome.disableReason ?? null),
  }
}

/** Text PostgreSQL can store, at most MAX_ERROR_CHARS long; null stays null. */
export function storableText(text: string | null): string | null {
  if (text === null) return null
  const cleaned = wellFormed(text.replaceAll('\u0000', '\uFFFD'))
  // cutting may split a surrogate pair: clean again
  return cleaned.length <= MAX_ERROR_CHARS ? cleaned : `${wellFormed(cleaned.slice(0, MAX_ERROR_CHARS - 1))}…`
}

/** String.prototype.toWellFormed (ES2024): unpaired surrogates become U+FFFD. */
const wellFormed = (text: string): string =>
  text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')

function int<T>(value: number, min: number, max: number, otherwise: T): number | T {
  if (!Number.isFinite(value)) return otherwise
  return Math.min(max, Math.max(min, Math.round(value)))
}

/**
 * The last resort for an outcome the database still refused: the attempt is
 * recorded as what it was (sent, retry, failed) with an error that says only
 * that its details could not be stored.
 */
export function minimalOutcome(outcome: RecordedOutcome, reason: string): RecordedOutcome {
  return {
    ...outcome,
    error: `the attempt's details could not be stored (${reason.replace(/[^\w .:-]/g, '').slice(0, 100)})`,
    disableReason: outcome.disableReason ? 'the endpoint asked to be disabled' : null,
  }
}
