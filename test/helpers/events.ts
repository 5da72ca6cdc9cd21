import { FormatRegistry } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { Database } from '../../src/db/database.ts'
import { COMMERCE_EVENT_SCHEMAS } from '../../src/events/schemas/commerce.ts'

export interface Envelope {
  id: string
  event: string
  tenant_id: string
  timestamp: string
  data: any
}

// Value.Check refuses formats it does not know; these are the ones the event schemas use.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (v) => UUID.test(v))
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v)
if (!FormatRegistry.Has('email')) FormatRegistry.Set('email', (v) => /^[^\s@]+@[^\s@]+$/.test(v))

/** Every event in the outbox, oldest transaction first. */
export async function allEvents(db: Database): Promise<Envelope[]> {
  const rows = await db.selectFrom('events').select(['id', 'body']).orderBy('created_at').execute()
  return rows.map((r) => JSON.parse(r.body) as Envelope)
}

/**
 * The outbox as a log the test reads in steps: `next()` returns the events
 * emitted since the previous call, so each step asserts exactly what it caused.
 */
export function eventLog(db: Database) {
  const seen = new Set<string>()
  return {
    async next(): Promise<Envelope[]> {
      const fresh = (await allEvents(db)).filter((e) => !seen.has(e.id))
      for (const e of fresh) seen.add(e.id)
      return fresh
    },
  }
}

/** Event types, sorted: one write's events share a transaction, so their order is not compared. */
export const typesOf = (events: Envelope[]): string[] => events.map((e) => e.event).sort()

export const ofType = (events: Envelope[], type: string): Envelope[] => events.filter((e) => e.event === type)

/** The schema errors of one commerce event's data, empty when it matches its documented shape. */
export function schemaErrors(event: Envelope): string[] {
  const schema = COMMERCE_EVENT_SCHEMAS[event.event as keyof typeof COMMERCE_EVENT_SCHEMAS]
  if (!schema) return [`no schema for ${event.event}`]
  return [...Value.Errors(schema, event.data)].map((e) => `${event.event} data${e.path}: ${e.message}`)
}
