import { ValidationError } from '../errors.ts'

/**
 * Order arithmetic in integer cents (bigint): 0.1 × 3 is 0.30 here, not
 * 0.30000000000000004. Amounts enter and leave as the exact decimal strings
 * PostgreSQL's numeric uses.
 */

/** numeric(15, 2): the largest amount whose 15 significant digits survive a JSON number. */
export const MAX_AMOUNT_CENTS = 999_999_999_999_999n

const DECIMAL = /^(\d+)(?:\.(\d{1,2}))?$/

/** "19.99" → 1999n */
export function toCents(amount: string): bigint {
  const match = DECIMAL.exec(amount)
  if (!match) throw new Error(`not a non-negative amount with at most two decimals: ${amount}`)
  const [, units = '0', fraction = ''] = match
  return BigInt(units) * 100n + BigInt(fraction.padEnd(2, '0'))
}

/** 1999n → "19.99" */
export function fromCents(cents: bigint): string {
  const units = cents / 100n
  const fraction = (cents % 100n).toString().padStart(2, '0')
  return `${units}.${fraction}`
}

export function checkAmount(cents: bigint, what: string): bigint {
  if (cents > MAX_AMOUNT_CENTS) throw new ValidationError('AMOUNT_TOO_LARGE', `${what} exceeds ${fromCents(MAX_AMOUNT_CENTS)}`)
  return cents
}
