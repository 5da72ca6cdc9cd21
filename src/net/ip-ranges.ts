import net from 'node:net'

/** What kind of address a webhook would reach; anything but a public unicast address has one. */
export type AddressKind =
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'cgnat'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved'
  | 'documentation'
  | 'benchmark'

/** IPv6 spellings that carry an IPv4 address, which is where the packets end up. */
export type EmbeddingForm = 'IPv4-mapped' | 'IPv4-compatible' | 'NAT64' | '6to4'

export interface Classification {
  kind: AddressKind
  via?: { form: EmbeddingForm; ipv4: string }
}

// First match wins: the specific ranges come before the ranges that contain them.
const V4: [base: string, bits: number, kind: AddressKind][] = [
  ['0.0.0.0', 8, 'unspecified'], // "this network"; 0.0.0.0 itself reaches the local host on Linux
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'cgnat'], // shared address space (RFC 6598), also Alibaba's metadata 100.100.100.200
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.169.254', 32, 'metadata'], // AWS, GCP, Azure, OpenStack instance metadata
  ['169.254.0.0', 16, 'link-local'],
  // Azure's WireServer (agent configuration, certificates): a public address by its number, metadata by its role
  ['168.63.129.16', 32, 'metadata'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'], // IETF protocol assignments
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, 'reserved'], // former 6to4 relay anycast
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmark'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['255.255.255.255', 32, 'broadcast'],
  ['240.0.0.0', 4, 'reserved'],
]

const V6: [base: string, bits: number, kind: AddressKind | EmbeddingForm][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::ffff:0:0', 96, 'IPv4-mapped'],
  ['::', 96, 'IPv4-compatible'], // deprecated, still routed to the IPv4 address by some stacks
  ['64:ff9b::', 96, 'NAT64'], // the well-known prefix: a NAT64 gateway forwards to the embedded IPv4 address
  ['64:ff9b:1::', 48, 'reserved'], // local-use NAT64 (RFC 8215)
  ['100::', 64, 'reserved'], // discard-only
  ['2001::', 23, 'reserved'], // IETF protocol assignments, Teredo (2001::/32) among them
  ['2001:db8::', 32, 'documentation'],
  ['2002::', 16, '6to4'],
  ['3fff::', 20, 'documentation'],
  ['fd00:ec2::254', 128, 'metadata'], // AWS instance metadata over IPv6
  ['fd20:ce::254', 128, 'metadata'], // GCP instance metadata over IPv6: inside fc00::/7, but never merely private
  ['fc00::', 7, 'private'], // unique local addresses
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'reserved'], // former site-local
  ['ff00::', 8, 'multicast'],
]
/** global unicast: everything outside it is unallocated or special */
const GLOBAL_UNICAST: [string, number] = ['2000::', 3]

const V4_RULES = V4.map(([base, bits, kind]) => ({ base: v4ToNumber(base), bits, kind }))
const V6_RULES = V6.map(([base, bits, kind]) => ({ base: v6ToBigInt(base), bits, kind }))
const GLOBAL = { base: v6ToBigInt(GLOBAL_UNICAST[0]), bits: GLOBAL_UNICAST[1] }

function v4ToNumber(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

function numberToV4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** A valid IPv6 address (net.isIPv6) as a 128-bit number: `::` expanded, a trailing dotted quad folded in. */
function v6ToBigInt(address: string): bigint {
  let text = address.split('%')[0]!.toLowerCase()
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1]
  if (quad) {
    const n = v4ToNumber(quad)
    text = `${text.slice(0, -quad.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return groups.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n)
}

const inV4 = (n: number, base: number, bits: number) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits))
const inV6 = (n: bigint, base: bigint, bits: number) => n >> BigInt(128 - bits) === base >> BigInt(128 - bits)

function classifyV4(address: string): Classification | null {
  const n = v4ToNumber(address)
  const rule = V4_RULES.find((r) => inV4(n, r.base, r.bits))
  return rule ? { kind: rule.kind } : null
}

function classifyV6(address: string): Classification | null {
  const n = v6ToBigInt(address)
  const rule = V6_RULES.find((r) => inV6(n, r.base, r.bits))
  if (!rule) return inV6(n, GLOBAL.base, GLOBAL.bits) ? null : { kind: 'reserved' }
  const { kind } = rule
  if (kind === 'IPv4-mapped' || kind === 'IPv4-compatible' || kind === 'NAT64' || kind === '6to4') {
    const bits = kind === '6to4' ? (n >> 80n) & 0xffffffffn : n & 0xffffffffn
    const ipv4 = numberToV4(Number(bits))
    const inner = classifyV4(ipv4)
    return inner && { kind: inner.kind, via: { form: kind, ipv4 } }
  }
  return { kind }
}

/**
 * What a literal IP address would reach: null for a public unicast address,
 * otherwise its kind, following IPv6 spellings of IPv4 addresses (mapped,
 * compatible, NAT64, 6to4) to the IPv4 address inside. Throws on anything that
 * is not an IP address: the caller decides what a name means.
 */
export function classifyAddress(address: string): Classification | null {
  switch (net.isIP(address.split('%')[0]!)) {
    case 4:
      return classifyV4(address)
    case 6:
      return classifyV6(address)
    default:
      throw new TypeError(`not an IP address: ${address}`)
  }
}

const KIND_TEXT: Record<AddressKind, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  'link-local': 'a link-local address',
  metadata: 'the cloud metadata address',
  cgnat: 'a shared (CGNAT) address',
  unspecified: 'an unspecified address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
  reserved: 'a reserved address',
  documentation: 'a documentation address',
  benchmark: 'a benchmarking address',
}

/** "10.0.0.1 is a private address", "::ffff:a9fe:a9fe is the cloud metadata address (IPv4-mapped 169.254.169.254)" */
export function describeAddress(address: string, classification: Classification): string {
  const via = classification.via ? ` (${classification.via.form} ${classification.via.ipv4})` : ''
  return `${address} is ${KIND_TEXT[classification.kind]}${via}`
}
