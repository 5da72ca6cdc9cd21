import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
export const RELAY_BIN = fileURLToPath(new URL('../bin/relay', import.meta.url))

/**
 * The environment of every process the bench starts. NODE_OPTIONS is replaced, not
 * inherited: under `npm test`, tap's process-tracking loader would otherwise ride
 * into every child (and cost it CPU the bench would then report).
 */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, NODE_OPTIONS: '', LOG_LEVEL: process.env.BENCH_CHILD_LOG_LEVEL ?? 'warn', NODE_ENV: 'development', ...extra }
}

/** Node flags that make a child write a V8 CPU profile into `dir` when it exits (NODE_OPTIONS refuses them). */
export const cpuProfileArgs = (dir: string): string[] => ['--cpu-prof', `--cpu-prof-dir=${dir}`]

export interface Child {
  name: string
  child: ChildProcess
  pid: number
  output(): string
  exited: Promise<number | string>
  /** SIGTERM, then wait for the exit (SIGKILL after `graceMs`) */
  stop(graceMs?: number): Promise<number | string>
}

export function start(name: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-20_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  return {
    name,
    child,
    pid: child.pid ?? 0,
    output: () => out,
    exited,
    async stop(graceMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

/** A real `bin/relay`, as an operator runs it. */
export function startRelay(name: string, databaseUrl: string, env: Record<string, string>, nodeArgs: string[] = [], bin = RELAY_BIN): Child {
  return start(name, [...nodeArgs, bin], childEnv({ DATABASE_URL: databaseUrl, PGAPPNAME: name, ...env }))
}

/** A bench-only entry point (bench/*.ts) run through tsx. */
export function startScript(name: string, script: string, env: Record<string, string>, nodeArgs: string[] = []): Child {
  return start(name, [...nodeArgs, '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url))], childEnv({ PGAPPNAME: name, ...env }))
}

/** The API without its in-process relay: `src/cli/start.ts`, as `npm start` runs it. */
export function startApi(name: string, databaseUrl: string, port: number, env: Record<string, string>): Child {
  return start(
    name,
    ['--import', 'tsx', fileURLToPath(new URL('../src/cli/start.ts', import.meta.url))],
    childEnv({ DATABASE_URL: databaseUrl, HOST: '127.0.0.1', PORT: String(port), RELAY: 'off', RATE_LIMIT_PER_MINUTE: '0', PGAPPNAME: name, ...env }),
  )
}

/** Peak resident set size of a live process, bytes (Linux VmHWM). */
export async function peakRss(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status)
  if (!match) throw new Error(`no VmHWM for process ${pid}`)
  return Number(match[1]) * 1024
}

/** Fails with the child's own words when it exits before it should. */
export function failOnExit(children: Child[]): { promise: Promise<never>; cancel(): void } {
  let cancelled = false
  const promise = Promise.race(
    children.map((c) =>
      c.exited.then((code) => {
        if (cancelled) return new Promise<never>(() => {})
        throw new Error(`${c.name} exited (${code}) mid-scenario:\n${c.output().slice(-3000)}`)
      }),
    ),
  )
  promise.catch(() => {})
  return {
    promise,
    cancel() {
      cancelled = true
    },
  }
}
