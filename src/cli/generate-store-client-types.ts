import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { openApiDocument } from '../docs/openapi-document.ts'
import { renderStoreClientTypes } from '../docs/store-client-types.ts'

/** `npm run generate:store-client-types`: rewrites the store client's types after a change to a route an app may call. */
export const STORE_CLIENT_TYPES_FILE = fileURLToPath(new URL('../store-api/api-types.ts', import.meta.url))

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(STORE_CLIENT_TYPES_FILE, renderStoreClientTypes(await openApiDocument()))
  console.log(`wrote ${STORE_CLIENT_TYPES_FILE}`)
}
