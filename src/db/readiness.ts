import type pg from 'pg'

export type DatabaseState = 'waiting' | 'up' | 'down'

export interface DatabaseCheck {
  /** waiting: not yet connected and migrated since start; up: answers; down: answered once, not now */
  state: DatabaseState
  latency_ms?: number
  /** why it is down, for operators only (it can name hosts and users) */
  error?: string
}

/**
 * Whether the service's database is usable, for the health endpoints. One probe
 * at a time and at most one per `cacheMs`, on a connection of its own: a flood of
 * probes costs the database one `select 1` a second, and a busy API pool does
 * not read as an outage.
 */
export class DatabaseReadiness {
  private started = false
  private last: { at: number; check: DatabaseCheck } | undefined
  private probing: Promise<DatabaseCheck> | undefined

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: { cacheMs?: number; timeoutMs?: number } = {},
  ) {}

  /** true once connected, migrated and checked at start: the API may take requests */
  get isStarted(): boolean {
    return this.started
  }

  markStarted(): void {
    this.started = true
    this.last = undefined
  }

  /**
   * The last known state, at once, refreshed in the background when stale: a liveness
   * probe must not wait on the database (probes time out in a second or so, and a
   * failed liveness probe restarts the process).
   */
  current(): DatabaseCheck {
    if (!this.started) return { state: 'waiting' }
    void this.check()
    return this.last?.check ?? { state: 'up' }
  }

  /** Probes the database (or answers the probe of less than `cacheMs` ago). */
  async check(): Promise<DatabaseCheck> {
    if (!this.started) return { state: 'waiting' }
    if (this.last && Date.now() - this.last.at < (this.options.cacheMs ?? 1000)) return this.last.check
    this.probing ??= this.probe().finally(() => (this.probing = undefined))
    return this.probing
  }

  private async probe(): Promise<DatabaseCheck> {
    const started = performance.now()
    const timeoutMs = this.options.timeoutMs ?? 2000
    let timer: NodeJS.Timeout | undefined
    let check: DatabaseCheck
    try {
      await Promise.race([
        this.pool.query('select 1'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
      ])
      check = { state: 'up', latency_ms: Math.round(performance.now() - started) }
    } catch (error) {
      check = { state: 'down', error: (error as Error).message || String((error as { code?: string }).code ?? error) }
    } finally {
      clearTimeout(timer)
    }
    this.last = { at: Date.now(), check }
    return check
  }
}
