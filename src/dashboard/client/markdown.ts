import { h } from './dom.ts'

/**
 * An app's description, written by a stranger, shown to every store. The API
 * refuses raw HTML and script links at publish (src/apps/markdown.ts); this
 * renderer does not rely on that. It knows a small subset of Markdown (headings,
 * paragraphs, lists, quotes, code, emphasis, links) and builds elements itself,
 * text always through text nodes: anything else, HTML included, shows as the
 * characters it is. A link becomes an <a> only for an absolute http(s) URL.
 * Parsing is pure (testable without a browser); rendering builds the DOM.
 */

export type Inline =
  | { t: 'text'; v: string }
  | { t: 'code'; v: string }
  | { t: 'strong' | 'em'; c: Inline[] }
  | { t: 'link'; href: string | null; c: Inline[] }

export type Block =
  | { t: 'h'; level: number; c: Inline[] }
  | { t: 'p'; c: Inline[] }
  | { t: 'pre'; v: string }
  | { t: 'ul' | 'ol'; items: Inline[][] }
  | { t: 'quote'; c: Block[] }
  | { t: 'hr' }

/** Descriptions are at most 20 KiB (checked at publish); past that, the rest is cut, not parsed. */
const MAX_CHARS = 32 * 1024
/** Quotes inside quotes: deeper ones stay text. */
const MAX_DEPTH = 4

/** The URL if it is an absolute http(s) one, as the URL parser reads it; otherwise null. */
export function safeHref(target: string): string | null {
  try {
    const url = new URL(target.trim())
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null
  } catch {
    return null
  }
}

const HEADING = /^(#{1,6})[ \t]+(.*?)[ \t#]*$/
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/
const BULLET = /^ {0,3}[-*+][ \t]+(.*)$/
const NUMBERED = /^ {0,3}\d{1,9}[.)][ \t]+(.*)$/
const FENCE = /^ {0,3}(```|~~~)/
const QUOTE = /^ {0,3}>[ \t]?(.*)$/

export function parseMarkdown(markdown: string, depth = 0): Block[] {
  const lines = markdown.slice(0, MAX_CHARS).replace(/\r\n?/g, '\n').split('\n')
  const blocks: Block[] = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    if (line.trim() === '') {
      i++
      continue
    }
    const fence = FENCE.exec(line)
    if (fence) {
      const code: string[] = []
      i++
      while (i < lines.length && !lines[i]!.trimStart().startsWith(fence[1]!)) code.push(lines[i++]!)
      i++
      blocks.push({ t: 'pre', v: code.join('\n') })
      continue
    }
    const heading = HEADING.exec(line)
    if (heading) {
      blocks.push({ t: 'h', level: heading[1]!.length, c: parseInline(heading[2]!) })
      i++
      continue
    }
    if (RULE.test(line)) {
      blocks.push({ t: 'hr' })
      i++
      continue
    }
    if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const quoted: string[] = []
      while (i < lines.length && QUOTE.test(lines[i]!)) quoted.push(QUOTE.exec(lines[i++]!)![1]!)
      blocks.push({ t: 'quote', c: parseMarkdown(quoted.join('\n'), depth + 1) })
      continue
    }
    const list = BULLET.test(line) ? BULLET : NUMBERED.test(line) ? NUMBERED : null
    if (list) {
      const items: string[] = []
      while (i < lines.length && lines[i]!.trim() !== '') {
        const item = list.exec(lines[i]!)
        if (item) items.push(item[1]!)
        else if (/^\s/.test(lines[i]!) && items.length > 0) items[items.length - 1] += ` ${lines[i]!.trim()}`
        else break
        i++
      }
      blocks.push({ t: list === BULLET ? 'ul' : 'ol', items: items.map(parseInline) })
      continue
    }
    const paragraph: string[] = []
    while (
      i < lines.length &&
      lines[i]!.trim() !== '' &&
      !(paragraph.length > 0 && (HEADING.test(lines[i]!) || FENCE.test(lines[i]!) || QUOTE.test(lines[i]!) || BULLET.test(lines[i]!) || RULE.test(lines[i]!)))
    ) {
      paragraph.push(lines[i++]!.trim())
    }
    blocks.push({ t: 'p', c: parseInline(paragraph.join(' ')) })
  }
  return blocks
}

// bounded, so a description of ten thousand `[` costs a bounded scan each, not one to its end
const LINK = /^\[([^\]]{0,500})\]\(\s*<?([^)\s>]{0,2048})>?(?:\s+"[^"]{0,500}")?\s*\)/
const ESCAPABLE = /[\\`*_[\]()#+\-.!>~]/

/** Emphasis, code spans and links; everything else is text. */
export function parseInline(text: string): Inline[] {
  const out: Inline[] = []
  let plain = ''
  const flush = () => {
    if (plain) out.push({ t: 'text', v: plain })
    plain = ''
  }
  let i = 0
  while (i < text.length) {
    const ch = text[i]!
    if (ch === '\\' && i + 1 < text.length && ESCAPABLE.test(text[i + 1]!)) {
      plain += text[i + 1]
      i += 2
      continue
    }
    if (ch === '`') {
      const end = text.indexOf('`', i + 1)
      if (end > i + 1) {
        flush()
        out.push({ t: 'code', v: text.slice(i + 1, end) })
        i = end + 1
        continue
      }
    }
    if (ch === '*' || ch === '_') {
      const marker = text.startsWith(ch + ch, i) ? ch + ch : ch
      const end = text.indexOf(marker, i + marker.length)
      // not `a * b * c`: emphasis hugs its text
      if (end > i + marker.length && !/\s/.test(text[i + marker.length]!) && !/\s/.test(text[end - 1]!)) {
        flush()
        out.push({ t: marker.length === 2 ? 'strong' : 'em', c: parseInline(text.slice(i + marker.length, end)) })
        i = end + marker.length
        continue
      }
    }
    const image = ch === '!' && text[i + 1] === '['
    if (ch === '[' || image) {
      const start = image ? i + 1 : i
      const link = LINK.exec(text.slice(start))
      if (link) {
        flush()
        // an image is shown as a link to it: the page loads nothing from a developer's server
        const label = link[1] || (image ? 'image' : link[2]!)
        out.push({ t: 'link', href: safeHref(link[2]!), c: image ? [{ t: 'text', v: `🖼 ${label}` }] : parseInline(label) })
        i = start + link[0].length
        continue
      }
    }
    plain += ch
    i++
  }
  flush()
  return out
}

function renderInline(nodes: Inline[]): Node[] {
  return nodes.map((node): Node => {
    switch (node.t) {
      case 'text':
        return document.createTextNode(node.v)
      case 'code':
        return h('code', {}, node.v)
      case 'strong':
        return h('strong', {}, ...renderInline(node.c))
      case 'em':
        return h('em', {}, ...renderInline(node.c))
      case 'link':
        // a link to anything but http(s) keeps its text and loses its target
        return node.href
          ? h('a', { href: node.href, rel: 'noopener noreferrer nofollow', target: '_blank' }, ...renderInline(node.c))
          : h('span', { class: 'dead-link' }, ...renderInline(node.c))
    }
  })
}

function renderBlock(block: Block): Node {
  switch (block.t) {
    case 'h':
      // the page has h1 and h2 already: a description's # is the page's h3
      return h(`h${Math.min(6, block.level + 2)}` as 'h3', {}, ...renderInline(block.c))
    case 'p':
      return h('p', {}, ...renderInline(block.c))
    case 'pre':
      return h('pre', {}, h('code', {}, block.v))
    case 'ul':
    case 'ol':
      return h(block.t, {}, ...block.items.map((item) => h('li', {}, ...renderInline(item))))
    case 'quote':
      return h('blockquote', {}, ...block.c.map(renderBlock))
    case 'hr':
      return h('hr')
  }
}

/** The description as elements, inside a container the stylesheet gives its typography. */
export function renderMarkdown(markdown: string): HTMLElement {
  return h('div', { class: 'markdown' }, ...parseMarkdown(markdown).map(renderBlock))
}
