import fs from 'node:fs'
import { ConfigSchema } from '../config.ts'

/**
 * The README's configuration table, made from the config schema so the two
 * cannot drift: `npm run docs:config` prints it, test/readme.test.ts checks it.
 */
export function configTable(): string {
  const rows = Object.entries(ConfigSchema.properties).map(([name, schema]) => {
    const s = schema as { default?: unknown; description?: string }
    const fallback = s.default === undefined ? '—' : `\`${String(s.default)}\``
    return `| \`${name}\` | ${fallback} | ${(s.description ?? '').replace(/\|/g, '\\|')} |`
  })
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n')
}

/** `--write`: replace the table between the README's markers. */
if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--write')) {
    const readme = fs.readFileSync('README.md', 'utf8')
    const next = readme.replace(
      /(<!-- config-table:start -->\n)[\s\S]*?(\n?<!-- config-table:end -->)/,
      (_all, start: string, end: string) => `${start}${configTable()}\n${end.replace(/^\n/, '')}`,
    )
    fs.writeFileSync('README.md', next)
  } else {
    console.log(configTable())
  }
}
