import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import type { Test } from 'tap'

const BIN = path.resolve('bin/relay')

export interface RelayProcess {
  child: ChildProcess
  output: () => string
  /** resolves with the exit code (or the signal's name) */
  exited: Promise<number | string>
}

/** Spawns a real `bin/relay` process against `databaseUrl`; killed at teardown if still running. */
export function spawnRelay(t: Test, databaseUrl: string, env: Record<string, string> = {}): RelayProcess {
  const child = spawn(process.execPath, [BIN], {
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
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    return exited.then(() => {})
  })
  return { child, output: () => out, exited }
}
