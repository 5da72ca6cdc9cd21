import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'

/**
 * Runs `bench/run.ts --quick` with `flags` against the suite's PostgreSQL, into a
 * temp folder removed at teardown. Returns its exit code, its output, the name of
 * the JSON results file it wrote (if any) and those results.
 */
export async function runQuickBench(t: Test, flags: string[]) {
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-bench-test-'))
  t.teardown(() => fs.rm(out, { recursive: true, force: true }))
  // `env -u NODE_OPTIONS`: tap's process tracking adds its loader to every child it
  // sees spawned; it would ride into the bench and every process the bench starts
  const args = ['-u', 'NODE_OPTIONS', process.execPath, '--import', 'tsx', 'bench/run.ts', '--quick', ...flags, '--pg-url', process.env.TEST_PG_ADMIN_URL ?? '', '--out', out]
  const child = spawn('/usr/bin/env', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  const [file] = (await fs.readdir(out)).filter((f) => f.endsWith('.json'))
  const results = file ? JSON.parse(await fs.readFile(path.join(out, file), 'utf8')) : {}
  return { code, output, file, results }
}

/** How many result rows of a scenario whose name starts with `prefix` measured something. */
export function measured(rows: { scenario: string; summary: { median: number } }[], prefix: string): number {
  return rows.filter((r) => r.scenario.startsWith(prefix) && Number.isFinite(r.summary.median) && r.summary.median > 0).length
}
