/**
 * An app's description is Markdown written by a stranger and shown to every store.
 * Whatever renders it (the dashboard, a store's own admin), it must not be able to
 * carry script: raw HTML is refused outright (Markdown has a syntax for everything a
 * listing needs), and so are link and image targets with a scheme other than
 * http(s) or mailto (javascript:, data:, vbscript: …). Refusing at publish beats
 * sanitising at every reader.
 */
const HTML = /<\s*[A-Za-z!?/]/
// [text](target) and ![alt](target), and reference definitions `[x]: target`
const TARGETS = /\]\(\s*<?([^)\s>]*)|^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm
// autolinks are HTML-like and already refused; a bare scheme at a target's start:
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/
const SAFE_SCHEMES = new Set(['http', 'https', 'mailto'])

/** Why a description is refused, or null. */
export function markdownProblem(markdown: string): string | null {
  if (HTML.test(markdown)) return 'raw HTML is not allowed in Markdown descriptions'
  for (const match of markdown.matchAll(TARGETS)) {
    // entity-encoded and control characters hide schemes from naive checks: drop them before looking
    const target = decodeURIComponentSafe((match[1] ?? match[2] ?? '').replace(/&#?[A-Za-z0-9]+;?/g, '').replace(/[\x00-\x20]/g, ''))
    const scheme = SCHEME.exec(target)?.[1]?.toLowerCase()
    if (scheme !== undefined && !SAFE_SCHEMES.has(scheme)) return `links with the scheme '${scheme}:' are not allowed`
    if (/&#|&[a-z]+;/i.test(match[1] ?? match[2] ?? '')) return 'character references are not allowed in link targets'
  }
  return null
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
