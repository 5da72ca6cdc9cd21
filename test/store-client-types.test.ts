import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import type { Static } from '@sinclair/typebox'
import t from 'tap'
import { STORE_CLIENT_TYPES_FILE } from '../src/cli/generate-store-client-types.ts'
import { openApiDocument } from '../src/docs/openapi-document.ts'
import { clientRoutes, renderStoreClientTypes } from '../src/docs/store-client-types.ts'
import type { AppEventName } from '../src/events/catalog.ts'
import type { CreateProductBody, ProductListQuery, ProductResponse } from '../src/products/product.schemas.ts'
import type { AppLifecycleEventName } from '../src/receiver/index.ts'
import type { StoreOperations } from '../src/store-api/index.ts'

// Compile-time checks (the suite type-checks before it runs).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
// the generated types are the server's own schemas, seen through the document
const productMatches: Same<StoreOperations['GET /api/products/{id}']['response'], Static<typeof ProductResponse>> = true
const bodyMatches: Same<StoreOperations['POST /api/products']['body'], Static<typeof CreateProductBody>> = true
const queryMatches: Same<Required<StoreOperations['GET /api/products']['query']>, Required<Static<typeof ProductListQuery>>> = true
const lifecycleMatches: Same<AppLifecycleEventName, AppEventName> = true

t.test('the store client types are generated from the current OpenAPI document', async (t) => {
  t.ok(productMatches && bodyMatches && queryMatches && lifecycleMatches, 'generated types equal the schemas (checked by the type-check)')
  const onDisk = await readFile(STORE_CLIENT_TYPES_FILE, 'utf8')
  // every route the permission table opens to tokens is generated (clientRoutes() reads the table)
  t.same(clientRoutes().filter((route) => !onDisk.includes(`  '${route}': {`)), [], 'every route a token may call has its types')
  t.ok(clientRoutes().length >= 21, `${clientRoutes().length} routes`)
  t.equal(onDisk, renderStoreClientTypes(await openApiDocument()), 'src/store-api/api-types.ts is current (if not: npm run generate:store-client-types)')
})

t.test('the app SDK modules import nothing at runtime but each other', async (t) => {
  for (const dir of ['src/app-auth', 'src/store-api']) {
    for (const file of await readdir(dir)) {
      const source = await readFile(path.join(dir, file), 'utf8')
      const runtime = [...source.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!)
      t.same(runtime.filter((from) => !/^\.\.?\/(store-api\/)?[a-z-]+\.ts$/.test(from)), [], `${dir}/${file}: relative imports only`)
    }
  }
  t.equal((await readFile(STORE_CLIENT_TYPES_FILE, 'utf8')).match(/^\s*import\b/m), null, 'api-types.ts imports nothing')
})
