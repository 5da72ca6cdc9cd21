import fs from 'node:fs/promises'
import path from 'node:path'

/** Where a V8 CPU profile (`node --cpu-prof`) spent its samples, by function and by group. */
export interface ProfileSummary {
  file: string
  /** profiled wall time, ms */
  wallMs: number
  /** time not idle, ms: what the process cost a core */
  busyMs: number
  groups: { group: string; ms: number; share: number }[]
  /** by self time, the idle loop left out */
  top: { fn: string; group: string; ms: number; share: number }[]
}

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame }[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

const GOT = ['/got/', '/@sindresorhus/', '/@szmarczak/', '/cacheable-request/', '/cacheable-lookup/', '/http2-wrapper/', '/responselike/',
  '/lowercase-keys/', '/p-cancelable/', '/form-data-encoder/', '/decompress-response/', '/mimic-response/', '/normalize-url/', '/keyv/',
  '/get-stream/', '/defer-to-connect/', '/quick-lru/', '/resolve-alpn/', '/type-fest/', '/byte-counter/', '/chunk-data/']
const PG = ['/pg/', '/pg-protocol/', '/pg-pool/', '/pg-types/', '/pg-connection-string/', '/pg-listen/', '/pgpass/', '/postgres-array/',
  '/postgres-date/', '/postgres-bytea/', '/postgres-interval/', '/pg-int8/', '/pg-cloudflare/']

/** The group a frame's self time is charged to: got, pg, JSON, our code, Node's HTTP and streams, … */
export function groupOf(frame: CallFrame): string {
  const { url, functionName } = frame
  if (functionName === '(idle)') return 'idle'
  if (functionName === '(garbage collector)') return 'GC'
  if (functionName === '(program)') return 'V8 (program)'
  if (url.includes('/node_modules/')) {
    const inModules = url.slice(url.lastIndexOf('/node_modules/') + '/node_modules'.length)
    if (GOT.some((p) => inModules.startsWith(p))) return 'got'
    if (PG.some((p) => inModules.startsWith(p))) return 'pg'
    if (inModules.startsWith('/kysely/')) return 'kysely'
    if (inModules.startsWith('/pino') || inModules.startsWith('/sonic-boom/')) return 'pino'
    if (inModules.startsWith('/graphile-worker/') || inModules.startsWith('/@graphile/')) return 'graphile-worker'
    return 'other packages'
  }
  if (url.includes('/src/')) return 'our code (src/)'
  if (url.includes('/bench/')) return 'bench harness'
  if (url === '') {
    if (functionName === 'parse' || functionName === 'stringify') return 'JSON'
    // the native side of socket writes (stream_base bindings)
    if (/^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString|shutdown|readStart|readStop)$/.test(functionName)) {
      return 'node net & streams'
    }
    return 'V8 builtins'
  }
  if (/node:(_http|internal\/http|http)/.test(url)) return 'node http'
  if (/node:(net|internal\/net|internal\/stream|stream|internal\/streams|_stream|internal\/stream_base)/.test(url)) return 'node net & streams'
  if (/node:(crypto|internal\/crypto)/.test(url)) return 'node crypto'
  if (/node:(internal\/url|url)/.test(url)) return 'node url'
  if (/node:(internal\/(timers|process\/task_queues|async_hooks)|timers|events|internal\/event_target|internal\/abort_controller)/.test(url)) {
    return 'node timers, events & abort'
  }
  return 'node (other)'
}

const shortUrl = (url: string): string => {
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length)
  const src = url.lastIndexOf('/src/')
  if (src >= 0) return url.slice(src + 1)
  return url.replace(/^file:\/\//, '')
}

/**
 * `window`: [from, to] in ms of the system-wide monotonic clock (process.hrtime):
 * only samples inside it count, so start-up (module loading) and the wait at the
 * starting gate are left out. V8 stamps samples with the same clock, in µs.
 */
export function summariseProfile(file: string, profile: CpuProfile, window?: [number, number], topN = 20): ProfileSummary {
  const self = new Map<number, number>()
  const [from, to] = window ? [window[0] * 1000, window[1] * 1000] : [-Infinity, Infinity]
  let at = profile.startTime
  let first = Infinity
  let last = -Infinity
  // timeDeltas[i] is the time since sample i-1: charge it to the sample that ran through it
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0
    if (at < from || at > to) continue
    first = Math.min(first, at)
    last = Math.max(last, at)
    const delta = profile.timeDeltas[i + 1] ?? 0
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + delta)
  }
  if (window && first === Infinity) throw new Error(`${file}: no sample inside the window; is the profile's clock not the monotonic one?`)
  const byFunction = new Map<string, { group: string; us: number }>()
  const byGroup = new Map<string, number>()
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0
    if (us === 0) continue
    const group = groupOf(node.callFrame)
    byGroup.set(group, (byGroup.get(group) ?? 0) + us)
    if (group === 'idle') continue
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'}${url ? ` ${shortUrl(url)}:${lineNumber + 1}` : ''}`
    const entry = byFunction.get(key) ?? { group, us: 0 }
    entry.us += us
    byFunction.set(key, entry)
  }
  const wallUs = window ? last - first : profile.endTime - profile.startTime
  const busyUs = wallUs - (byGroup.get('idle') ?? 0)
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0)
  return {
    file: path.basename(file),
    wallMs: wallUs / 1000,
    busyMs: busyUs / 1000,
    groups: [...byGroup]
      .filter(([group]) => group !== 'idle')
      .map(([group, us]) => ({ group, ms: us / 1000, share: share(us) }))
      .sort((a, b) => b.ms - a.ms),
    top: [...byFunction]
      .map(([fn, { group, us }]) => ({ fn, group, ms: us / 1000, share: share(us) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, topN),
  }
}

/**
 * The profile of a process's main thread in `dir`: thread 0 in the file name
 * (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile); tsx's loader thread writes one of its own.
 */
export async function readProfile(dir: string, window?: [number, number]): Promise<ProfileSummary> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))
  const main = files.find((f) => f.split('.')[4] === '0')
  if (!main) throw new Error(`no main-thread .cpuprofile in ${dir} (${files.join(', ') || 'empty'})`)
  const file = path.join(dir, main)
  return summariseProfile(file, JSON.parse(await fs.readFile(file, 'utf8')) as CpuProfile, window)
}
