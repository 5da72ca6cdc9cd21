import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { readFileSync } from 'node:fs'

export interface Machine {
  cpus: number
  cpuModel: string
  memoryGb: number
  os: string
  node: string
  postgres: string
  got: string
  graphileWorker: string
  commit: string | null
  /** 1-minute load average when the run started and ended: other work on the machine */
  loadStart: number
  loadEnd?: number
}

// read from the file: got's `exports` do not expose its package.json
const versionOf = (pkg: string): string =>
  (JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')) as { version: string }).version

export function describeMachine(postgres: string): Machine {
  let commit: string | null = null
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    if (dirty) commit += ' (with uncommitted changes to tracked files)'
  } catch {}
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres,
    got: versionOf('got'),
    graphileWorker: versionOf('graphile-worker'),
    commit,
    loadStart: os.loadavg()[0]!,
  }
}
