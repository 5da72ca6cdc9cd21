import pgListen, { type Subscriber } from 'pg-listen'
import type { Logger } from 'pino'
import type { Database } from '../db/database.ts'
import { DELIVERY_CHANNEL } from '../outbox/emit.ts'
import { reconnectDelayMs } from '../relay/listener.ts'
import { sql } from 'kysely'
import { CHANGES_CHANNEL, HORIZON_MARKER_SQL, parseChanges, type Change, type Horizon } from './changes.ts'
import {
  attemptsSince,
  createdSince,
  currentCursor,
  LOOKBACK_IDS,
  readChanges,
  type ChangeFilter,
  type CreatedRead,
  type LiveChange,
} from './change-queries.ts'

// pg-listen is CommonJS; under NodeNext its callable export sits on .default
const createSubscriber = pgListen.default

/** names the hub's connection in pg_stat_activity, for operators (and the outage test) */
export const LIVE_STREAM_APPLICATION_NAME = 'bettercallsold-live-stream'

/** Rows read per query; a burst larger than this is read in several. */
const BATCH = 500

interface Watched {
  xid8: bigint
  from: number
  upTo: number
}

interface Client {
  filter: ChangeFilter
  plugins: Set<string>
  events: Set<string>
  send: (change: LiveChange) => void
  /** the hub's horizon moved (see ChangeHub.horizon) */
  onHorizon: (xmin: number) => void
}

/**
 * The live stream's one link to the database, per process: it LISTENs on the
 * relays' channel (new deliveries) and on the changes channel (outcomes,
 * requeues), reads what changed once per notification burst, and fans it out in
 * memory to every stream client whose tenant and filters match. Nothing polls;
 * with no client connected, notifications are ignored without a query.
 */
export class ChangeHub {
  private readonly clients = new Set<Client>()
  private subscriber: Subscriber | undefined
  private started: Promise<void> | undefined
  /** the newest delivery id announced as created; null while nobody listens */
  private createdCursor: number | null = null
  /**
   * Write transactions in progress at the last read, by xid8: ids are drawn before
   * commit, so one that commits after a later one has left rows behind the cursor;
   * they are read again by the txid that wrote them until the transaction has ended.
   */
  private watched = new Map<string, Watched>()
  /**
   * The horizon: every change written by a transaction below this xid8 (as a number)
   * has been fanned out, up to the cursors (within LOOKBACK_IDS of them): what a
   * client's `Last-Event-ID` carries, so that a resume looks back for late commits
   * above it only. It moves when a horizon marker comes back (src/live/changes.ts):
   * notifications arrive in commit order, so every one sent by a transaction below
   * the marker's xid came before it, and this hub has read what each named once it
   * reaches the marker in its queue. Never more than the truth; 0 before any.
   */
  horizon = 0
  private lastXmax: bigint | null = null
  /** the newest attempt id announced (live or caught up): where the catch-up after a reconnect starts */
  private attemptMark = 0
  private catchUpOutcomes = false
  private connectedOnce = false
  private pending: (Change | Horizon)[] = []
  private lookForCreated = false
  private working: Promise<void> | undefined
  private closed = false

  constructor(
    private readonly db: Database,
    private readonly connectionString: string,
    private readonly log: Logger,
  ) {}

  get clientCount(): number {
    return this.clients.size
  }

  /**
   * Adds a client; resolves once the hub is listening, so that nothing committed
   * after this returns is missed. Returns the function that removes it.
   */
  async subscribe(filter: ChangeFilter, send: (change: LiveChange) => void, onHorizon: (xmin: number) => void = () => {}): Promise<() => void> {
    const client: Client = { filter, plugins: new Set(filter.plugins), events: new Set(filter.events), send, onHorizon }
    this.clients.add(client)
    try {
      await this.start()
      // the first client after a quiet spell: creations start counting from now, and the
      // transactions in progress now are watched, since they may commit ids below it
      if (this.createdCursor === null) {
        const now = await currentCursor(this.db)
        this.attemptMark = now.attempt
        // what committed before now is not this hub's to announce; what is in progress is watched
        this.horizon = now.xmin
        this.watched.clear()
        this.lastXmax = null
        const read = await createdSince(this.db, now.delivery, [], 1)
        this.createdCursor = read.cursor
        this.watch(read, read.cursor)
      }
    } catch (error) {
      this.clients.delete(client)
      throw error
    }
    return () => {
      this.clients.delete(client)
      if (this.clients.size === 0) this.createdCursor = null
    }
  }

  async close(): Promise<void> {
    this.closed = true
    this.clients.clear()
    await this.started?.catch(() => {})
    await this.subscriber?.close().catch(() => {})
    await this.working
  }

  private start(): Promise<void> {
    this.started ??= this.connect().catch((error) => {
      this.started = undefined
      throw error
    })
    return this.started
  }

  private async connect(): Promise<void> {
    // a first connect that fails leaves pg-listen reconnecting in the background: end that
    // (or close what it gets), else each stream opened during an outage leaks a connection
    let abandoned = false
    const subscriber = createSubscriber(
      { connectionString: this.connectionString, query_timeout: 5000, keepAlive: true, application_name: LIVE_STREAM_APPLICATION_NAME },
      // keep the payload as text (pg-listen would JSON.parse it); never give up reconnecting
      // (throwing from retryInterval is the one way to end pg-listen's reconnect loop once closed)
      {
        parse: (payload: string) => payload,
        retryInterval: (n) => {
          if (this.closed || abandoned) throw new Error('live stream listener closed')
          return reconnectDelayMs(n)
        },
        retryTimeout: 0,
        paranoidChecking: 10_000,
      },
    )
    subscriber.notifications.on(CHANGES_CHANNEL, (payload: string | undefined) => {
      if (this.clients.size === 0) return
      this.pending.push(...parseChanges(payload))
      this.schedule()
    })
    subscriber.notifications.on(DELIVERY_CHANNEL, () => {
      if (this.clients.size === 0) return
      this.lookForCreated = true
      this.schedule()
    })
    // notifications sent while reconnecting are lost: creations are caught up by cursor,
    // outcomes by the attempts recorded since the last one announced
    subscriber.events.on('connected', () => {
      if (abandoned) return void subscriber.close().catch(() => {})
      this.lookForCreated = true
      if (this.connectedOnce) this.catchUpOutcomes = true
      this.connectedOnce = true
      this.schedule()
    })
    subscriber.events.on('reconnect', (attempt) => {
      if (!abandoned) this.log.warn({ attempt }, 'live stream listener lost its connection; reconnecting')
    })
    subscriber.events.on('error', (error) => {
      if (!this.closed && !abandoned) this.log.error({ err: error }, 'live stream listener error')
    })
    this.subscriber = subscriber
    try {
      await subscriber.connect()
      await subscriber.listenTo(CHANGES_CHANNEL)
      await subscriber.listenTo(DELIVERY_CHANNEL)
    } catch (error) {
      abandoned = true
      await subscriber.close().catch(() => {})
      throw error
    }
  }

  /** One reader at a time: notifications arriving meanwhile are folded into its next round. */
  private schedule(): void {
    this.working ??= this.work()
      .catch((error) => this.log.error({ err: error }, 'live stream could not read delivery changes'))
      .finally(() => {
        this.working = undefined
        if (!this.closed && this.clients.size > 0 && (this.pending.length > 0 || this.lookForCreated)) this.schedule()
      })
  }

  private async work(): Promise<void> {
    while (!this.closed && (this.pending.length > 0 || this.lookForCreated)) {
      if (this.clients.size === 0) {
        this.pending = []
        this.lookForCreated = false
        this.createdCursor = null
        return
      }
      // taken together: a horizon marker in `queue` came after every notification that
      // set lookForCreated before it, so the read of new deliveries below comes first
      const look = this.lookForCreated
      this.lookForCreated = false
      const queue = this.pending.splice(0)
      const tenants = [...new Set([...this.clients].map((c) => c.filter.tenantId))]
      let read = false
      if (look && this.createdCursor !== null) {
        read = true
        let created: CreatedRead
        do {
          const before = this.createdCursor
          created = await createdSince(this.db, before, tenants, BATCH, this.watchList())
          this.createdCursor = created.cursor
          this.watch(created, before)
          this.fanOut(created.changes)
        } while (created.more && !this.closed)
      }
      if (this.catchUpOutcomes) {
        this.catchUpOutcomes = false
        read = true
        // the first page looks back for outcomes committed late, below the newest announced
        let lookBack: { xmin: number } | null = { xmin: this.horizon }
        let caught: LiveChange[]
        do {
          caught = await attemptsSince(this.db, this.attemptMark, tenants, BATCH, lookBack)
          lookBack = null
          this.fanOut(caught)
        } while (caught.length === BATCH && !this.closed)
      }
      let changes: Change[] = []
      const flush = async () => {
        if (changes.length > 0) this.fanOut(await readChanges(this.db, changes, tenants))
        changes = []
      }
      for (const item of queue) {
        if ('horizon' in item) {
          await flush()
          this.advance(item.horizon)
          continue
        }
        read = true
        changes.push(item)
        if (changes.length === BATCH) await flush()
      }
      await flush()
      // a round that read something sends a marker (a round of markers alone does not:
      // hubs would answer each other's for ever); its return moves the horizon past it
      if (read && !this.closed) await sql.raw(HORIZON_MARKER_SQL).execute(this.db)
    }
  }

  private advance(xmin: number): void {
    if (xmin <= this.horizon) return
    this.horizon = xmin
    for (const client of this.clients) client.onHorizon(xmin)
  }

  private watchList(): { xid: string; from: number; upTo: number }[] {
    return [...this.watched].map(([xid, w]) => ({ xid, from: w.from, upTo: w.upTo }))
  }

  /**
   * After a read: a watched transaction that has ended has shown all its rows (the
   * read returned them); one in progress may still commit ids up to the new cursor.
   * A transaction that got its id after the previous read drew its delivery ids
   * after it too, so above the cursor then (src/outbox/emit.ts draws ids only once
   * the transaction has its id).
   */
  private watch(read: CreatedRead, cursorBefore: number): void {
    const running = new Set(read.inProgress)
    for (const [xid, w] of this.watched) if (w.xid8 < read.xmax && !running.has(w.xid8)) this.watched.delete(xid)
    for (const xid8 of read.inProgress) {
      const xid = xid8.toString()
      const known = this.watched.get(xid)
      const from = known?.from ?? (this.lastXmax !== null && xid8 >= this.lastXmax ? cursorBefore : cursorBefore - LOOKBACK_IDS)
      const upTo = Math.max(known?.upTo ?? 0, read.cursor)
      this.watched.set(xid, { xid8, from: Math.max(from, upTo - LOOKBACK_IDS, 0), upTo })
    }
    this.lastXmax = read.xmax
  }

  private fanOut(changes: LiveChange[]): void {
    for (const change of changes) {
      if (change.attemptCursor !== null) this.attemptMark = Math.max(this.attemptMark, change.attemptCursor)
      for (const client of this.clients) {
        if (client.filter.tenantId !== change.tenantId) continue
        if (client.plugins.size > 0 && !client.plugins.has(change.data.plugin)) continue
        if (client.events.size > 0 && !client.events.has(change.data.event)) continue
        client.send(change)
      }
    }
  }
}
