import pgListen, { type Subscriber } from 'pg-listen'
import type { Logger } from 'pino'
import { reconnectDelayMs } from '../relay/listener.ts'

// pg-listen is CommonJS; under NodeNext its callable export sits on .default
const createSubscriber = pgListen.default

/** revokeApiKey notifies this channel, with the key's id, in the statement that revokes it. */
export const KEY_REVOKED_CHANNEL = 'bcs_key_revoked'

/**
 * Hears every key revocation, from any process (the API's DELETE /api/keys/{id},
 * bin/admin), so that whatever a process holds open for a key (its live streams)
 * ends at once. `onRevoked` is called with the key's id, and with null after every
 * (re)connect: revocations announced while the connection was down were not heard,
 * so the holder must recheck all it holds. Connects on first use; never gives up.
 */
export class RevocationWatch {
  private subscriber: Subscriber | undefined
  private started: Promise<void> | undefined
  private closed = false

  constructor(
    private readonly connectionString: string,
    private readonly log: Logger,
    private readonly onRevoked: (keyId: string | null) => void,
  ) {}

  /** Resolves once listening: a revocation committed after this is heard. */
  listening(): Promise<void> {
    this.started ??= this.connect().catch((error) => {
      this.started = undefined
      throw error
    })
    return this.started
  }

  async close(): Promise<void> {
    this.closed = true
    await this.started?.catch(() => {})
    await this.subscriber?.close().catch(() => {})
  }

  private async connect(): Promise<void> {
    const subscriber = createSubscriber(
      { connectionString: this.connectionString, query_timeout: 5000, keepAlive: true, application_name: 'bettercallsold-key-revocations' },
      {
        parse: (payload: string) => payload,
        retryInterval: (n) => {
          if (this.closed) throw new Error('key revocation listener closed')
          return reconnectDelayMs(n)
        },
        retryTimeout: 0,
        paranoidChecking: 10_000,
      },
    )
    subscriber.notifications.on(KEY_REVOKED_CHANNEL, (payload: string | undefined) => this.onRevoked(payload || null))
    subscriber.events.on('connected', () => this.onRevoked(null))
    subscriber.events.on('reconnect', (attempt) => this.log.warn({ attempt }, 'key revocation listener lost its connection; reconnecting'))
    subscriber.events.on('error', (error) => {
      if (!this.closed) this.log.error({ err: error }, 'key revocation listener error')
    })
    this.subscriber = subscriber
    try {
      await subscriber.connect()
      await subscriber.listenTo(KEY_REVOKED_CHANNEL)
    } catch (error) {
      this.subscriber = undefined
      await subscriber.close().catch(() => {})
      throw error
    }
  }
}
