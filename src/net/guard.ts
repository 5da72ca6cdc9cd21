import dns, { type LookupAddress } from 'node:dns'
import net, { type LookupFunction } from 'node:net'
import type { Config } from '../config.ts'
import { UnsafeWebhookUrlError } from '../errors.ts'
import { classifyAddress, describeAddress, type AddressKind } from './ip-ranges.ts'

export { classifyAddress, describeAddress } from './ip-ranges.ts'

/**
 * The SSRF guard: webhook URLs are chosen by strangers, and the server must not
 * become their way into its own network. A URL is checked when it is registered
 * (a 400 naming the reason) and again at every send, where the address checked is
 * the one the connection uses (guardedLookup), so DNS rebinding cannot slip a
 * private address in after registration.
 */
export interface AddressPolicy {
  /** loopback and private networks allowed (development, tests) */
  allowPrivate: boolean
  /** http: refused */
  httpsOnly: boolean
}

export function addressPolicy(config: Pick<Config, 'ALLOW_PRIVATE_WEBHOOKS' | 'HTTPS_ONLY'>): AddressPolicy {
  return { allowPrivate: config.ALLOW_PRIVATE_WEBHOOKS, httpsOnly: config.HTTPS_ONLY }
}

/** What ALLOW_PRIVATE_WEBHOOKS permits. Link-local, metadata and the rest stay refused whatever the setting. */
const PRIVATE_KINDS = new Set<AddressKind>(['loopback', 'private'])

/** Why a literal IP address must not be contacted, or null. */
export function addressProblem(address: string, policy: AddressPolicy): string | null {
  const classification = classifyAddress(address)
  if (!classification || (policy.allowPrivate && PRIVATE_KINDS.has(classification.kind))) return null
  return describeAddress(address, classification)
}

const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'metadata.goog', 'instance-data', 'instance-data.ec2.internal'])
const INTERNAL_SUFFIXES = ['.internal', '.local', '.localdomain', '.home.arpa', '.lan', '.intranet', '.corp', '.private']

/** Names that are internal by convention, before any DNS; the addresses they resolve to are checked at send time. */
function nameProblem(host: string, policy: AddressPolicy): string | null {
  const name = host.replace(/\.$/, '')
  if (METADATA_NAMES.has(name)) return `${host} is a cloud metadata name`
  if (policy.allowPrivate) return null
  if (name === 'localhost' || name.endsWith('.localhost')) return `${host} is a loopback name`
  // a single label is completed by the resolver's search domains: an internal host
  if (!name.includes('.') || INTERNAL_SUFFIXES.some((suffix) => name.endsWith(suffix))) return `${host} is an internal name`
  return null
}

// scheme, slashes (or backslashes, which WHATWG reads as slashes), userinfo up to the last '@', then the host as written
const WRITTEN_HOST = /^[\x00-\x20]*[a-z][a-z0-9+.-]*:[\\/]*(?:[^\\/?#]*@)?(\[[^\]]*\]|[^:\\/?#]*)/i

/** The host as the URL spells it, before WHATWG normalisation turns `0x7f.1` into `127.0.0.1`. */
function writtenHost(url: string): string {
  return (WRITTEN_HOST.exec(url.replace(/[\t\n\r]/g, ''))?.[1] ?? '').toLowerCase()
}

/**
 * Why a webhook URL is refused, or null. Pure and fast (no DNS): literal
 * addresses are classified here, names are resolved and checked at connect time.
 */
export function webhookUrlProblem(raw: string, policy: AddressPolicy): string | null {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'it is not a valid URL'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `the ${url.protocol} scheme is not allowed (http and https only)`
  if (policy.httpsOnly && url.protocol === 'http:') return 'http: URLs are refused, use https (HTTPS_ONLY)'
  const host = url.hostname
  if (host.startsWith('[')) return addressProblem(host.slice(1, -1), policy)
  if (net.isIPv4(host)) {
    // 2130706433, 0x7f000001, 0177.0.0.1, 127.1 all become 127.0.0.1: a spelling meant to slip past filters
    const written = writtenHost(raw)
    if (written !== host) return `'${written}' is a non-standard spelling of the IPv4 address ${host}`
    return addressProblem(host, policy)
  }
  return nameProblem(host, policy)
}

/** For registration and update: a 400 UNSAFE_WEBHOOK_URL naming the reason. */
export function assertSafeWebhookUrl(url: string | undefined, config: Pick<Config, 'ALLOW_PRIVATE_WEBHOOKS' | 'HTTPS_ONLY'>): void {
  const problem = url === undefined ? null : webhookUrlProblem(url, addressPolicy(config))
  if (problem) throw new UnsafeWebhookUrlError(problem)
}

export const BLOCKED_ADDRESS = 'ERR_BLOCKED_ADDRESS'

export function blockedError(reason: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`blocked: ${reason}`), { code: BLOCKED_ADDRESS })
}

/** Resolves a name to every address it has; tests pass their own so that no query leaves the machine. */
export type Resolver = (hostname: string, family: number) => Promise<LookupAddress[]>

const systemResolver: Resolver = (hostname, family) => dns.promises.lookup(hostname, { all: true, family, verbatim: true })

/**
 * A `lookup` for http(s) agents: resolves the name, refuses the connection if
 * any of its addresses is refused (one bad answer taints the name), and hands
 * the checked addresses to the socket, which connects to exactly those.
 * Literal IP hosts never come here (Node skips the lookup for them): they are
 * checked by webhookUrlProblem before the request.
 */
export function guardedLookup(policy: AddressPolicy, resolve: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    const family = typeof options.family === 'number' ? options.family : options.family === 'IPv6' ? 6 : options.family === 'IPv4' ? 4 : 0
    resolve(hostname, family).then(
      (addresses) => {
        if (addresses.length === 0) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '')
        for (const { address } of addresses) {
          const problem = addressProblem(address, policy)
          if (problem) return callback(blockedError(`${problem} (resolved from ${hostname})`), '')
        }
        if (options.all) return callback(null, addresses)
        const [first] = addresses as [LookupAddress]
        return callback(null, first.address, first.family)
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    )
  }
}
