import pgListen, { type Subscriber } from 'pg-listen'
import type { Logger } from 'pino'
import { listenerReconnects } from '../metrics/process-metrics.ts'

// pg-listen is CommonJS; under NodeNext its callable export sits on .default
const createSubscriber = pgListen.default

export const LISTENER_APPLICATION_NAME = 'bettercallsold-relay-listener'

export interface Listener {
  readonly connected: boolean
  readonly reconnects: number
  close(): Promise<void>
}

/** Reconnect delay: 100 ms doubling to 10 s, with full jitter so relays do not reconnect in lockstep. */
export const reconnectDelayMs = (attempt: number, random = Math.random): number =>
  Math.round(Math.min(10_000, 100 * 2 ** attempt) * (0.5 + random() / 2))

/**
 * LISTENs on `channel` and calls `onWake` for every notification and after every
 * (re)connect: notifications sent while the connection was down are lost, so the
 * relay must look for due work each time it comes back. Never gives up; the
 * relay's poll keeps deliveries flowing while it is down.
 */
export function listen(options: {
  connectionString: string
  channel: string
  onWake: () => void
  log: Logger
  /** how often a query checks the connection, to notice a half-open one */
  checkIntervalMs?: number
}): Listener {
  const { channel, onWake, log } = options
  let closed = false
  let connected = false
  let reconnects = 0
  let subscriber: Subscriber | undefined
  let retryTimer: NodeJS.Timeout | undefined

  const connect = async (attempt: number): Promise<void> => {
    if (closed) return
    // a subscriber whose first connect failed is replaced by a new one, but pg-listen has
    // already begun reconnecting it in the background: this ends that, or closes what it gets
    let abandoned = false
    const current = createSubscriber(
      // query_timeout: the periodic check fails instead of hanging on a half-open socket
      {
        connectionString: options.connectionString,
        query_timeout: 5000,
        keepAlive: true,
        // names the connection in pg_stat_activity, for operators (and the fault tests)
        application_name: LISTENER_APPLICATION_NAME,
      },
      {
        // pg-listen's reconnect loop never looks at close(); throwing from retryInterval is
        // the one way to end it, so a listener closed while the database is down lets the
        // process exit
        retryInterval: (n) => {
          if (closed || abandoned) throw new Error('relay listener closed')
          return reconnectDelayMs(n)
        },
        retryTimeout: 0,
        paranoidChecking: options.checkIntervalMs ?? 5000,
      },
    )
    current.events.on('connected', () => {
      if (abandoned) return void current.close().catch(() => {})
      connected = true
      onWake()
    })
    current.events.on('reconnect', (n) => {
      if (abandoned) return
      if (n === 1) {
        reconnects++
        listenerReconnects.inc()
      }
      connected = false
      log.warn({ attempt: n }, 'relay listener lost its connection; reconnecting')
    })
    current.events.on('error', (error) => {
      if (!closed && !abandoned) log.error({ err: error }, 'relay listener error')
    })
    current.notifications.on(channel, () => onWake())
    subscriber = current
    try {
      await current.connect()
      await current.listenTo(channel)
    } catch (error) {
      connected = false
      abandoned = true
      await current.close().catch(() => {})
      if (closed) return
      const delay = reconnectDelayMs(attempt)
      log.warn({ err: error, retryInMs: delay }, 'relay listener could not connect; retrying')
      retryTimer = setTimeout(() => void connect(attempt + 1), delay)
    }
  }
  void connect(0)

  return {
    get connected() {
      return connected
    },
    get reconnects() {
      return reconnects
    },
    async close() {
      closed = true
      clearTimeout(retryTimer)
      await subscriber?.close().catch(() => {})
    },
  }
}
