/**
 * `npm test`: one PostgreSQL for the whole run (the embedded one, unless
 * DATABASE_URL points at a server), a migrated template database, then tap.
 * Each test file copies the template into a database of its own (see
 * test/helpers/db.ts), so files run in parallel without seeing each other.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.ts'
import { migrate } from '../../src/db/migrate.ts'
import { freePort } from '../helpers/net.ts'

export const TEMPLATE = 'bcs_test_template'

async function prepareTemplate(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  // leftovers of an earlier run that was killed
  const { rows } = await admin.query<{ datname: string }>(`select datname from pg_database where datname like 'bcs_test_%'`)
  for (const { datname } of rows) {
    await admin.query(`alter database ${admin.escapeIdentifier(datname)} is_template false`).catch(() => {})
    await admin.query(`drop database if exists ${admin.escapeIdentifier(datname)} with (force)`)
  }
  await admin.query(`create database ${TEMPLATE}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${TEMPLATE}`
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString(), max: 1 }) }) })
  await migrate(db)
  await db.destroy()
}

/** Top-level entries of the developer's data folder: the run must add none (no secrets.key, no artifacts/). */
const DEVELOPER_DATA = path.resolve('.data')
const entries = (folder: string) => fs.readdir(folder).catch(() => [] as string[])
const developerDataBefore = new Set(await entries(DEVELOPER_DATA))

// everything the run writes lives here: the embedded PostgreSQL, and DATA_DIR for every server and CLI it starts
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bcs-test-'))
await fs.chmod(dir, 0o755)
const dataDir = path.join(dir, 'data')
// screenshots and other artifacts, kept after the run (and replaced by the next one)
const artifactsDir = path.join(os.tmpdir(), 'bettercallsold-test-artifacts')
await fs.rm(artifactsDir, { recursive: true, force: true })

let embedded: EmbeddedPostgres | undefined
let adminUrl = process.env.DATABASE_URL
if (!adminUrl) {
  embedded = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), port: await freePort(), persistent: false })
  adminUrl = embedded.adminUrl
}
await prepareTemplate(adminUrl)

const tap = spawn(process.execPath, [path.resolve('node_modules/tap/dist/esm/run.mjs'), ...process.argv.slice(2)], {
  stdio: ['inherit', 'pipe', 'inherit'],
  env: { ...process.env, TEST_PG_ADMIN_URL: adminUrl, TEST_PG_TEMPLATE: TEMPLATE, DATABASE_URL: '', DATA_DIR: dataDir, TEST_ARTIFACTS_DIR: artifactsDir },
})
// pass tap's report through, and remember its summary line: `# { total: 9, pass: 8, fail: 1 }`
let summary: { pass?: number; fail?: number } | undefined
let tail = ''
tap.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk)
  tail = (tail + chunk.toString()).slice(-4096)
  const match = /# \{ total: \d+(?:, (\w+): (\d+))*.*\}/.exec(tail)
  if (match) {
    summary = {}
    for (const [, key, n] of match[0].matchAll(/(pass|fail): (\d+)/g)) summary[key as 'pass' | 'fail'] = Number(n)
  }
})
let code = await new Promise<number>((resolve) => tap.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))))
const added = (await entries(DEVELOPER_DATA)).filter((name) => !developerDataBefore.has(name))
if (added.length > 0) {
  process.stdout.write(`\nnot ok - the run wrote into the developer's data folder ${DEVELOPER_DATA}: ${added.join(', ')}\n`)
  summary = { pass: summary?.pass ?? 0, fail: (summary?.fail ?? 0) + 1 }
  code ||= 1
}
if ((await entries(artifactsDir)).length > 0) process.stdout.write(`\ntest artifacts (screenshots): ${artifactsDir}\n`)
// the plain closing line CI reads; a run that ran nothing is a failure
process.stdout.write(`\ntests: ${summary?.pass ?? 0} passed, ${summary?.fail ?? 0} failed\n`)
if (!summary?.pass) code ||= 1
await embedded?.stop()
await fs.rm(dir, { recursive: true, force: true })
process.exit(code)
