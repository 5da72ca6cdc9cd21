import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { renderReceiverTypes } from '../events/receiver-types.ts'

/** `npm run generate:receiver-types`: rewrites the receiver SDK's event types after a change to the catalog. */
export const RECEIVER_TYPES_FILE = fileURLToPath(new URL('../receiver/events.ts', import.meta.url))

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(RECEIVER_TYPES_FILE, renderReceiverTypes())
  console.log(`wrote ${RECEIVER_TYPES_FILE}`)
}
