import { parseArgs } from 'node:util'
import pino from 'pino'
import { loadConfig } from '../config.ts'
import { resolveDatabase } from '../db/connect.ts'
import { createDatabase, type Database } from '../db/database.ts'
import { migrate } from '../db/migrate.ts'
import { createDeveloper, listDevelopers, revokeDeveloper, type DeveloperRow } from '../apps/developer.repository.ts'
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from '../keys/api-key.repository.ts'
import { createLogger } from '../logger.ts'
import { fatal } from './shutdown.ts'

const USAGE = `Usage: bin/admin keys <command>
       bin/admin developers <command>

  keys create --tenant <uuid> [--name <name>] [--admin] [--operator] [--json]
      Creates an API key for the tenant and prints it, once: only its hash is kept.
      --admin lets the key create, list and revoke its tenant's keys through /api/keys.
      --operator lets it read what spans every tenant (/metrics): for the platform's
      operators and their monitoring, never for a store.
  keys list [--tenant <uuid>] [--json]
      Lists keys (prefix only), revoked ones included.
  keys revoke <id>
      Revokes a key: requests presenting it are refused from now on.

  developers create --name <name> [--json]
      Creates an app developer and prints its developer key, once: only its hash is kept.
      The key publishes and manages that developer's apps (POST /api/apps, docs/apps.md).
  developers list [--json]
  developers revoke <id>

Uses the server's configuration: DATABASE_URL, or the embedded PostgreSQL under DATA_DIR.`

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

class UsageError extends Error {}

function uuid(value: string | undefined, what: string): string {
  if (!value || !UUID.test(value)) throw new UsageError(`${what} must be a UUID, got ${JSON.stringify(value ?? '')}`)
  return value.toLowerCase()
}

function table(rows: ApiKeyRow[]): string {
  if (rows.length === 0) return 'No API keys.'
  const lines = rows.map((k) => [
    k.id,
    k.tenant_id,
    `${k.prefix}…`,
    [k.admin && 'admin', k.operator && 'operator'].filter(Boolean).join(','),
    k.revoked_at ? `revoked ${k.revoked_at.toISOString()}` : 'active',
    k.name,
  ])
  const header = ['ID', 'TENANT', 'PREFIX', 'ROLE', 'STATUS', 'NAME']
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  return [header, ...lines].map((l) => l.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}

const json = (row: ApiKeyRow) => ({ ...row, created_at: row.created_at.toISOString(), revoked_at: row.revoked_at?.toISOString() ?? null })

/** Reads and checks the command line before any database work: a typo costs nothing. */
function command(args: string[]): (db: Database) => Promise<string> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      admin: { type: 'boolean', default: false },
      operator: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  })
  const [group, name, id] = positionals
  if (group === 'developers') return developerCommand(name, id, values)
  if (group !== 'keys') throw new UsageError(group ? `unknown command '${group}'` : 'missing command')
  switch (name) {
    case 'create': {
      const tenant = uuid(values.tenant, '--tenant')
      if ((values.name ?? '').length > 100) throw new UsageError('--name must be at most 100 characters')
      return async (db) => {
        const { row, key } = await createApiKey(db, tenant, { name: values.name, admin: values.admin, operator: values.operator })
        if (values.json) return JSON.stringify({ ...json(row), key })
        return [
          `Created ${row.operator ? 'an operator' : row.admin ? 'an admin' : 'an'} API key for tenant ${row.tenant_id} (id ${row.id}):`,
          '',
          `  ${key}`,
          '',
          'Store it now: it is shown this once and cannot be recovered.',
          `Use it as: Authorization: Bearer ${row.prefix}…`,
        ].join('\n')
      }
    }
    case 'list': {
      const tenant = values.tenant === undefined ? null : uuid(values.tenant, '--tenant')
      return async (db) => {
        const rows = await listApiKeys(db, tenant)
        return values.json ? JSON.stringify(rows.map(json)) : table(rows)
      }
    }
    case 'revoke': {
      const keyId = uuid(id, 'the key id')
      return async (db) => {
        const row = await revokeApiKey(db, null, keyId)
        return values.json ? JSON.stringify(json(row)) : `Revoked API key ${row.id} (${row.prefix}…) of tenant ${row.tenant_id}.`
      }
    }
    default:
      throw new UsageError(name ? `unknown command 'keys ${name}'` : 'missing command')
  }
}

const developerJson = (row: DeveloperRow) => ({ ...row, created_at: row.created_at.toISOString(), revoked_at: row.revoked_at?.toISOString() ?? null })

function developerCommand(name: string | undefined, id: string | undefined, values: { name?: string; json?: boolean }): (db: Database) => Promise<string> {
  switch (name) {
    case 'create': {
      const developerName = values.name?.trim() ?? ''
      if (developerName.length < 1 || developerName.length > 100) throw new UsageError('--name is required, at most 100 characters')
      return async (db) => {
        const { row, key } = await createDeveloper(db, developerName)
        if (values.json) return JSON.stringify({ ...developerJson(row), key })
        return [
          `Created developer "${row.name}" (id ${row.id}). Its developer key:`,
          '',
          `  ${key}`,
          '',
          'Store it now: it is shown this once and cannot be recovered.',
          'Use it as: Authorization: Bearer <developer key> on /api/apps (see docs/apps.md)',
        ].join('\n')
      }
    }
    case 'list':
      return async (db) => {
        const rows = await listDevelopers(db)
        if (values.json) return JSON.stringify(rows.map(developerJson))
        if (rows.length === 0) return 'No developers.'
        return rows.map((d) => `${d.id}  ${d.prefix}…  ${d.revoked_at ? 'revoked' : 'active'}  ${d.name}`).join('\n')
      }
    case 'revoke': {
      const developerId = uuid(id, 'the developer id')
      return async (db) => {
        const row = await revokeDeveloper(db, developerId)
        if (!row) throw new UsageError(`no live developer ${developerId}`)
        return values.json ? JSON.stringify(developerJson(row)) : `Revoked developer ${row.id} (${row.name}).`
      }
    }
    default:
      throw new UsageError(name ? `unknown command 'developers ${name}'` : 'missing command')
  }
}

/** `bin/admin`: operator tasks against the service's database. */
const args = process.argv.slice(2)
if (args.length === 0 || args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(args.length === 0 ? 2 : 0)
}
try {
  const run = command(args)
  const config = loadConfig()
  // stdout carries the answer (a key, a table); logs go to stderr
  const logger = createLogger({ LOG_LEVEL: 'warn' }, { destination: pino.destination(2) })
  const { url, embedded } = await resolveDatabase(config, logger)
  const database = createDatabase(url, 1)
  try {
    await migrate(database.db)
    process.stdout.write(`${await run(database.db)}\n`)
  } finally {
    await database.destroy()
    await embedded?.stop()
  }
} catch (error) {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`bin/admin: ${(error as Error).message}\n\n${USAGE}\n`)
    process.exit(2)
  }
  fatal(error)
}
