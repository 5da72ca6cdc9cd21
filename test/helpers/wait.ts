import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Polls `check` until it returns a truthy value (which is returned), or fails
 * with `message` after `timeoutMs`. Tests wait on conditions, never on fixed sleeps.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 15_000, intervalMs = 20, message = 'condition' }: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value as NonNullable<T>
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}${last ? `: ${String(last)}` : ''}`)
    }
    await sleep(intervalMs)
  }
}
