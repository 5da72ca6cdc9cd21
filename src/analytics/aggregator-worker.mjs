// The entry of the aggregator's worker thread (aggregator-thread.ts): its TypeScript is run
// through tsx, as bin/relay runs the relay's.
import { register } from 'tsx/esm/api'

register()
await import('./aggregator-worker.ts')
