import { AppError } from '../errors.ts'

export interface StreamOwner {
  /** the API key the stream was opened with; null without one (AUTH=off) */
  keyId: string | null
  tenantId: string
}

export interface StreamLimits {
  perKey: number
  perTenant: number
}

/** One place on the budget, taken before the stream opens and given back when it ends. */
export interface StreamSlot extends StreamOwner {
  /** ends the stream because its key was revoked; set once the stream exists */
  revoke: (() => void) | null
  /** the key was revoked before the stream existed: it must not open */
  revoked: boolean
  release(): void
}

const count = (map: Map<string, number>, key: string, by: number) => {
  const n = (map.get(key) ?? 0) + by
  if (n === 0) map.delete(key)
  else map.set(key, n)
}

/**
 * The live streams open in this process, counted per key and per tenant: a
 * stream holds a connection and a subscription for as long as it stays open, so
 * one caller may not hold without end (MAX_STREAMS_PER_KEY, MAX_STREAMS_PER_TENANT).
 * Places are taken synchronously, so concurrent opens cannot overshoot.
 */
export class OpenStreams {
  private readonly slots = new Set<StreamSlot>()
  private readonly perKey = new Map<string, number>()
  private readonly perTenant = new Map<string, number>()

  constructor(private readonly limits: StreamLimits) {}

  /** Takes a place, or throws a 429 STREAM_BUDGET_EXCEEDED naming the budget that is spent. */
  take(owner: StreamOwner): StreamSlot {
    if (owner.keyId !== null && (this.perKey.get(owner.keyId) ?? 0) >= this.limits.perKey) {
      throw new AppError(429, 'STREAM_BUDGET_EXCEEDED', `This API key has ${this.limits.perKey} live streams open, the most it may (MAX_STREAMS_PER_KEY); close one first`)
    }
    if ((this.perTenant.get(owner.tenantId) ?? 0) >= this.limits.perTenant) {
      throw new AppError(429, 'STREAM_BUDGET_EXCEEDED', `This tenant has ${this.limits.perTenant} live streams open, the most it may (MAX_STREAMS_PER_TENANT); close one first`)
    }
    let released = false
    const slot: StreamSlot = {
      ...owner,
      revoke: null,
      revoked: false,
      release: () => {
        if (released) return
        released = true
        this.slots.delete(slot)
        if (owner.keyId !== null) count(this.perKey, owner.keyId, -1)
        count(this.perTenant, owner.tenantId, -1)
      },
    }
    this.slots.add(slot)
    if (owner.keyId !== null) count(this.perKey, owner.keyId, 1)
    count(this.perTenant, owner.tenantId, 1)
    return slot
  }

  /** The keys that hold streams (or are opening one) now. */
  keyIds(): string[] {
    return [...this.perKey.keys()]
  }

  /** Ends every stream of these keys, and refuses those still opening. */
  revoke(keyIds: Set<string>): number {
    let ended = 0
    for (const slot of [...this.slots]) {
      if (slot.keyId === null || !keyIds.has(slot.keyId)) continue
      slot.revoked = true
      if (slot.revoke) {
        slot.revoke()
        ended++
      }
    }
    return ended
  }
}
