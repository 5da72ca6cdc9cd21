import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import type { Static, TSchema } from '@sinclair/typebox'
import t from 'tap'
import { RECEIVER_TYPES_FILE } from '../src/cli/generate-receiver-types.ts'
import type { APP_EVENT_TYPES, EVENT_TYPES, TEST_EVENT_TYPE } from '../src/events/catalog.ts'
import { renderReceiverTypes } from '../src/events/receiver-types.ts'
import type { BetterCallSoldEvent, EventDataMap, EventOf } from '../src/receiver/index.ts'

// Compile-time checks (the suite type-checks before it runs): the SDK's generated
// types are exactly the catalog's schemas, event by event.
type Entry = (typeof EVENT_TYPES)[number] | typeof TEST_EVENT_TYPE | (typeof APP_EVENT_TYPES)[number]
type SchemaData<N> = Extract<Entry, { name: N }> extends { data: infer S extends TSchema } ? Static<S> : unknown
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type EveryDataTypeMatches = { [N in keyof EventDataMap]: Same<EventDataMap[N], SchemaData<N>> }[keyof EventDataMap]
const dataTypesMatch: Same<EveryDataTypeMatches, true> = true
const namesMatch: Same<keyof EventDataMap, Entry['name']> = true
const unionCoversCatalog: Same<BetterCallSoldEvent['event'], Entry['name']> = true

t.test('the SDK types are generated from the current catalog', async (t) => {
  t.ok(dataTypesMatch && namesMatch && unionCoversCatalog, 'generated types equal the schemas (checked by the type-check)')
  const onDisk = await readFile(RECEIVER_TYPES_FILE, 'utf8')
  t.equal(onDisk, renderReceiverTypes(), 'src/receiver/events.ts is current (if not: npm run generate:receiver-types)')
})

t.test('the union narrows data by event name', async (t) => {
  const body = '{"id":"e","event":"plugin.test","tenant_id":"t","timestamp":"x","data":{"plugin":"p","message":"m"}}'
  const event = JSON.parse(body) as BetterCallSoldEvent
  switch (event.event) {
    case 'plugin.test': {
      const slug: string = event.data.plugin
      t.equal(slug, 'p')
      break
    }
    case 'product.created': {
      const price: number = event.data.price
      t.fail(`unexpected ${price}`)
      break
    }
    default:
      t.fail(`unexpected ${event.event}`)
  }
  const one: EventOf<'product.updated'>['data']['changed_fields'] = ['price']
  t.same(one, ['price'])
})

t.test('the SDK imports nothing at runtime but node built-ins', async (t) => {
  const dir = path.dirname(RECEIVER_TYPES_FILE)
  for (const file of await readdir(dir)) {
    const source = await readFile(path.join(dir, file), 'utf8')
    const runtime = [...source.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1])
    t.same(runtime.filter((from) => !from!.startsWith('node:')), [], `${file}: runtime imports are node:* only`)
  }
  t.equal((await readFile(RECEIVER_TYPES_FILE, 'utf8')).match(/^\s*import\b/m), null, 'events.ts imports nothing')
})
