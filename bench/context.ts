import type { SecretCipher } from '../src/secrets/cipher.ts'
import type { BenchOptions } from './options.ts'
import type { BenchPostgres } from './postgres.ts'
import type { Sink } from './sink-control.ts'

/** What every scenario shares: the server, the sink, the sizes, the key all processes sign with. */
export interface BenchContext {
  options: BenchOptions
  pg: BenchPostgres
  sink: Sink
  cipher: SecretCipher
  /** settings of every relay, API, ceiling and peer process */
  env: Record<string, string>
  /** pid of the PostgreSQL server's postmaster, to read the server's CPU */
  postmaster: number
  /** a real event body (written through the write path), for the ceiling */
  bodyFile: string
  /** where profiles go */
  workDir: string
  log(message: string): void
  /** template databases, built once when first needed */
  templates: Map<string, Promise<string>>
}

/** A template built once per run, however many scenarios ask for it. */
export function template(ctx: BenchContext, name: string, build: () => Promise<string>): Promise<string> {
  let pending = ctx.templates.get(name)
  if (!pending) {
    pending = build()
    ctx.templates.set(name, pending)
  }
  return pending
}

/** Round `round` of `items`, rotated: no contender always runs first (or last) in a round. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const k = round % Math.max(1, items.length)
  return [...items.slice(k), ...items.slice(0, k)]
}

/**
 * Settings of the relays of a drain. The drains post to one plugin, as the ceiling
 * and the peer post to one URL; its fairness cap (PLUGIN_MAX_IN_FLIGHT, default 20
 * across all relays) would make the drain a measure of the cap. It is set to what
 * the relays can hold in flight together, no more (the claim reads up to the
 * plugin's free share), unless --relay-env sets it.
 */
export function drainEnv(ctx: BenchContext, relays: number): Record<string, string> {
  return { ...ctx.env, PLUGIN_MAX_IN_FLIGHT: String(ctx.options.concurrency * relays), ...ctx.options.relayEnv }
}
