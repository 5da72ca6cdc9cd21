import fs from 'node:fs'
import { ConfigSchema } from '../config.ts'

/** The page that holds the table, between `<!-- config-table:start -->` and `<!-- config-table:end -->`. */
export const CONFIG_PAGE = 'docs/configuration.md'

/**
 * The configuration table of docs/configuration.md, made from the config schema
 * so the two cannot drift: `npm run docs:config` prints it, `-- --write` writes
 * it into the page, test/readme.test.ts checks it.
 */
export function configTable(): string {
  const rows = Object.entries(ConfigSchema.properties).map(([name, schema]) => {
    const s = schema as { default?: unknown; description?: string; minimum?: number; maximum?: number }
    const fallback = s.default === undefined ? '—' : `\`${String(s.default)}\``
    // the bounds checked at start: a value outside them stops the process naming the variable
    const range = s.maximum === undefined ? '' : `${s.minimum ?? 0} – ${s.maximum}`
    return `| \`${name}\` | ${fallback} | ${range} | ${(s.description ?? '').replace(/\|/g, '\\|')} |`
  })
  return ['| Variable | Default | Range | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n')
}

/** `--write`: replace the table between the page's markers. */
if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) {
    const page = fs.readFileSync(CONFIG_PAGE, 'utf8')
    const next = page.replace(
      /(<!-- config-table:start -->\n)[\s\S]*?(\n?<!-- config-table:end -->)/,
      (_all, start: string, end: string) => `${start}${configTable()}\n${end.replace(/^\n/, '')}`,
    )
    fs.writeFileSync(CONFIG_PAGE, next)
  } else {
    console.log(configTable())
  }
}
