import t from 'tap'
import fs from 'node:fs/promises'
import path from 'node:path'
import { ConfigSchema } from '../src/config.ts'
import { configTable, CONFIG_PAGE } from '../src/cli/config-table.ts'

/**
 * The README is the front page and docs/ holds the depth: these checks keep the
 * two linked together and the generated parts current.
 */

const README = 'README.md'
const DOCS = 'docs'

async function markdownFiles(): Promise<string[]> {
  const pages = (await fs.readdir(DOCS)).filter((name) => name.endsWith('.md')).map((name) => path.join(DOCS, name))
  return [README, ...pages.sort()]
}

/** The lines of a page outside fenced code blocks, where `#` is a heading and `[x](y)` a link. */
function proseLines(text: string): string[] {
  const lines: string[] = []
  let fence: string | undefined
  for (const line of text.split('\n')) {
    const marker = /^\s*(```|~~~)/.exec(line)?.[1]
    if (marker && (fence === undefined || fence === marker)) {
      fence = fence === undefined ? marker : undefined
      continue
    }
    if (fence === undefined) lines.push(line)
  }
  return lines
}

/** GitHub's heading anchor: link text and code kept as text, punctuation and emoji dropped, spaces to hyphens. */
export function githubSlug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-')
}

/** Every anchor a page offers: its headings' slugs (repeats get -1, -2, …) and explicit `id`/`name` attributes. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of proseLines(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1]
    if (heading !== undefined) {
      const base = githubSlug(heading)
      const count = seen.get(base) ?? 0
      seen.set(base, count + 1)
      anchors.add(count === 0 ? base : `${base}-${count}`)
    }
    for (const match of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]!)
  }
  return anchors
}

/** Targets of inline links and images, and of reference definitions, outside code. */
function linksOf(text: string): string[] {
  const links: string[] = []
  for (const line of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, '')
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push(match[1]!)
    const definition = /^\s*\[[^\]]+\]:\s*(\S+)/.exec(prose)?.[1]
    if (definition) links.push(definition)
  }
  return links
}

const isExternal = (link: string) => /^[a-z][a-z0-9+.-]*:/i.test(link)

t.test('GitHub slugs: code, punctuation and emoji go, spaces become hyphens', async (t) => {
  t.equal(githubSlug('Live stream: `GET /api/plugins/events/stream`'), 'live-stream-get-apipluginseventsstream')
  t.equal(githubSlug('📊 Dashboard, API docs, live stream and metrics'), '-dashboard-api-docs-live-stream-and-metrics')
  t.equal(githubSlug('Retention, vacuum and bloat'), 'retention-vacuum-and-bloat')
  t.equal(githubSlug('Secrets at rest: `SECRETS_KEY`'), 'secrets-at-rest-secrets_key')
  t.equal(githubSlug('Webhook URLs (SSRF guard)'), 'webhook-urls-ssrf-guard')
  t.same([...anchorsOf('# A\n```\n# not a heading\n```\n## A\n')], ['a', 'a-1'], 'code blocks hold no headings')
  t.same(linksOf('[a](x.md#y) `[b](ignored.md)` ![c](d.png "title")\n```\n[e](f.md)\n```\n[g]: h.md'), ['x.md#y', 'd.png', 'h.md'])
})

t.test('every relative link of the README and of docs/ leads to a file, and its #anchor to a heading there', async (t) => {
  const files = await markdownFiles()
  const anchors = new Map<string, Set<string>>()
  const anchorsIn = async (file: string) => {
    if (!anchors.has(file)) anchors.set(file, anchorsOf(await fs.readFile(file, 'utf8')))
    return anchors.get(file)!
  }
  let checked = 0
  for (const file of files) {
    for (const link of linksOf(await fs.readFile(file, 'utf8'))) {
      if (isExternal(link)) continue
      checked++
      const [target = '', anchor] = link.split('#', 2)
      const resolved = target === '' ? file : path.normalize(path.join(path.dirname(file), decodeURIComponent(target)))
      const exists = await fs.stat(resolved).then(() => true, () => false)
      if (!exists) {
        t.fail(`${file}: ${link} → ${resolved} does not exist`)
        continue
      }
      if (anchor && resolved.endsWith('.md')) {
        const available = await anchorsIn(resolved)
        t.ok(available.has(anchor), `${file}: ${link} → no heading with the anchor #${anchor} in ${resolved}`)
      }
    }
  }
  t.ok(checked > 50, `the links were found (${checked} checked)`)
})

t.test('the README is a front page: under 300 lines, and it links every page of docs/', async (t) => {
  const readme = await fs.readFile(README, 'utf8')
  const lines = readme.split('\n').length
  t.ok(lines < 300, `README.md has ${lines} lines`)
  const linked = new Set(linksOf(readme).filter((link) => !isExternal(link)).map((link) => path.normalize(link.split('#')[0]!)))
  for (const page of (await markdownFiles()).slice(1)) t.ok(linked.has(page), `README.md links ${page}`)
})

t.test('the configuration page\'s table is the one the config schema makes', async (t) => {
  const page = await fs.readFile(CONFIG_PAGE, 'utf8')
  const match = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(page)
  t.ok(match, `${CONFIG_PAGE} has the table markers`)
  t.equal(match?.[1], configTable(), 'run `npm run docs:config -- --write` to regenerate it')
})

t.test('every environment variable the config reads is documented on the configuration page', async (t) => {
  const page = await fs.readFile(CONFIG_PAGE, 'utf8')
  const source = await fs.readFile('src/config.ts', 'utf8')
  const read = new Set(Object.keys(ConfigSchema.properties))
  // names read directly from the environment, should any bypass the schema
  for (const match of source.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g)) read.add((match[1] ?? match[2])!)
  t.ok(read.has('PORT') && read.has('DATABASE_URL'), 'the variables were found')
  for (const name of read) t.ok(page.includes(`\`${name}\``), `${CONFIG_PAGE} documents ${name}`)
})
