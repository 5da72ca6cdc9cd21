import type { Kysely, QueryResult, RawBuilder } from 'kysely'
import pg from 'pg'
import type { DB } from './schema.ts'

/**
 * The write path's statements go out as named prepared statements. Kysely sends
 * every statement unnamed, and PostgreSQL plans an unnamed statement on every
 * call: about half of its time per write went to planning the fan-out (the
 * `pg_stat_statements` of the write scenario, docs/performance.md). A named
 * statement is parsed once per connection and, after its first five executions,
 * runs a plan made once (a generic plan) when that plan costs no more than the
 * custom ones.
 *
 * A statement is named by registering its text as Kysely compiles it; every pooled
 * client (createPool) sends a registered text under its name, and pg remembers which
 * names each connection has prepared. Only fixed texts are registered (every value
 * a parameter), so a connection holds a handful of prepared statements, not one per
 * query shape.
 */
const names = new Map<string, string>()

/** Sends `text` under `name` from now on. One name, one text. */
export function nameStatement(name: string, text: string): void {
  const known = names.get(text)
  if (known === name) return
  if (known !== undefined || [...names.values()].includes(name)) throw new Error(`statement name ${name} is taken by another text`)
  names.set(text, name)
}

/** A pg client that sends a registered text as its named prepared statement. */
export class NamingClient extends pg.Client {
  // pg's query() has many overloads; a registered text always comes in the (text, values[]) form Kysely
  // uses. Other calls are not looked up: the relay's claim sends texts of its own, many times a second.
  override query(...args: any[]): any {
    const [text, values, callback] = args
    const name = typeof text === 'string' && Array.isArray(values) ? names.get(text) : undefined
    if (name === undefined) return (super.query as (...a: any[]) => any)(...args)
    const config = { name, text, values }
    return typeof callback === 'function' ? super.query(config, callback) : super.query(config)
  }
}

/** Runs `query` as the named statement `name` (registered on first use). */
export function executeNamed<R>(db: Kysely<DB>, name: string, query: RawBuilder<R>): Promise<QueryResult<R>> {
  const compiled = query.compile(db)
  nameStatement(name, compiled.sql)
  return db.executeQuery(compiled)
}
