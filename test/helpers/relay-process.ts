import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import type { Test } from 'tap'
import { waitFor } from './wait.ts'

const BIN = path.resolve('bin/relay')

export interface RelayProcess {
  child: ChildProcess
  output: () => string
  /** resolves with the exit code (or the signal's name) */
  exited: Promise<number | string>
  /** resolves once the relay has started (its signal handlers are installed) */
  ready(): Promise<unknown>
}

/** Spawns a real `bin/relay` process against `databaseUrl`; killed at teardown if still running. */
export function spawnRelay(t: Test, databaseUrl: string, env: Record<string, string> = {}): RelayProcess {
  // Spawned as the executable it is (its shebang runs node), as an operator runs it.
  // `env -u NODE_OPTIONS` drops the loader tap's process tracking adds to every child.
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', BIN], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      WEBHOOK_TIMEOUT_MS: '2000',
      WEBHOOK_RETRY_BASE_MS: '50',
      RELAY_POLL_INTERVAL_MS: '200',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (c) => (out += c))
  child.stderr?.on('data', (c) => (out += c))
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  t.teardown(() => {
    // a failing test shows what the relay said
    if (!t.passing()) t.comment(`bin/relay output:\n${out.slice(-4000)}`)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return exited.then(() => {})
  })
  return {
    child,
    output: () => out,
    exited,
    ready: () => waitFor(() => out.includes('"relay started"'), { message: 'bin/relay started' }),
  }
}
