/**
 * The SSRF rules for outbound webhooks (pure): which IP addresses and host names a
 * push notification may not reach, and the operator's allow-list (`push.allow`) that
 * opens chosen targets. The dispatcher applies these to the address it actually connects
 * to; config operations apply them to literal-address URLs up front.
 */
import { isIP } from 'node:net';

/** Why a target is refused; a bounded set (used as a metric label). */
export type RefusalReason =
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'multicast'
  | 'unspecified'
  | 'metadata'
  | 'reserved'
  | 'redirect'
  | 'unresolvable';

/** What each reason means, for messages users read. */
export const REFUSAL_TEXT: Readonly<Record<RefusalReason, string>> = {
  loopback: 'a loopback address',
  private: 'a private-network address',
  link_local: 'a link-local address',
  cgnat: 'a carrier-grade NAT (100.64.0.0/10) address',
  multicast: 'a multicast or broadcast address',
  unspecified: 'the unspecified address',
  metadata: 'a cloud metadata endpoint',
  reserved: 'a reserved address',
  redirect: 'a redirect (webhooks are not followed to another location)',
  unresolvable: 'a host name with no address',
};

interface Range {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

interface RuleRange extends Range {
  readonly reason: RefusalReason;
}

// Order matters: the first match wins, so metadata precedes link-local and private.
const V4_RULES: readonly RuleRange[] = (
  [
    ['169.254.169.254/32', 'metadata'],
    ['0.0.0.0/8', 'unspecified'],
    ['127.0.0.0/8', 'loopback'],
    ['10.0.0.0/8', 'private'],
    ['172.16.0.0/12', 'private'],
    ['192.168.0.0/16', 'private'],
    ['100.64.0.0/10', 'cgnat'],
    ['169.254.0.0/16', 'link_local'],
    ['192.0.0.0/24', 'reserved'],
    ['198.18.0.0/15', 'reserved'],
    ['224.0.0.0/4', 'multicast'],
    ['255.255.255.255/32', 'multicast'],
    ['240.0.0.0/4', 'reserved'],
  ] as const
).map(([cidr, reason]) => ({ ...(parseCidr(cidr) as Range), reason }));

const V6_RULES: readonly RuleRange[] = (
  [
    ['fd00:ec2::254/128', 'metadata'],
    ['::/128', 'unspecified'],
    ['::1/128', 'loopback'],
    ['fc00::/7', 'private'],
    ['fec0::/10', 'private'],
    ['fe80::/10', 'link_local'],
    ['ff00::/8', 'multicast'],
    ['::/96', 'reserved'],
  ] as const
).map(([cidr, reason]) => ({ ...(parseCidr(cidr) as Range), reason }));

/** IPv6 prefixes that embed an IPv4 address in their last 32 bits: the IPv4 rules apply to it. */
const V4_EMBEDDING: readonly Range[] = ['::ffff:0:0/96', '64:ff9b::/96', '::ffff:0:0:0/96'].map(
  (c) => parseCidr(c) as Range,
);

/** Host names refused whatever they resolve to. */
const NAME_RULES: ReadonlyArray<[RegExp, RefusalReason]> = [
  [/^(metadata\.google\.internal|metadata|instance-data(\.ec2\.internal)?)$/, 'metadata'],
  [/^(.*\.)?localhost$/, 'loopback'],
];

/** The address as bytes (4 for IPv4, 16 for IPv6), or undefined when it is not an IP address. */
export function ipBytes(address: string): Uint8Array | undefined {
  const plain = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(plain);
  if (family === 4) return Uint8Array.from(plain.split('.').map(Number));
  if (family !== 6) return undefined;
  const zoneless = plain.split('%')[0] as string;
  let groups: number[] = [];
  const parseHalf = (half: string): number[] => {
    if (half === '') return [];
    const out: number[] = [];
    for (const part of half.split(':')) {
      if (part.includes('.')) {
        const [a, b, c, d] = part.split('.').map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(parseInt(part, 16));
    }
    return out;
  };
  const [head, tail] = zoneless.split('::') as [string, string | undefined];
  if (tail === undefined) groups = parseHalf(head);
  else {
    const h = parseHalf(head);
    const t = parseHalf(tail);
    groups = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  return bytes;
}

/** `a.b.c.d/n` or `v6/n` (a bare address is a single-address range), or undefined. */
export function parseCidr(text: string): Range | undefined {
  const [address, bits] = text.split('/') as [string, string | undefined];
  const bytes = ipBytes(address);
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits)))
    return undefined;
  return { bytes, prefix };
}

function inRange(bytes: Uint8Array, range: Range): boolean {
  if (bytes.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] as number) & mask) !== ((range.bytes[i] as number) & mask)) return false;
  }
  return true;
}

/** The IPv4 address an IPv6 one carries (mapped, NAT64), else the address itself. */
function unwrap(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 16 && V4_EMBEDDING.some((r) => inRange(bytes, r))) return bytes.slice(12);
  return bytes;
}

/** Why webhooks may not reach this IP address by default, or undefined when they may. */
export function classifyAddress(address: string): RefusalReason | undefined {
  const raw = ipBytes(address);
  if (!raw) return undefined;
  const bytes = unwrap(raw);
  const rules = bytes.length === 4 ? V4_RULES : V6_RULES;
  return rules.find((r) => inRange(bytes, r))?.reason;
}

/** Why webhooks may not reach this host name whatever it resolves to, or undefined. */
export function classifyName(hostname: string): RefusalReason | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return NAME_RULES.find(([re]) => re.test(name))?.[1];
}

interface HostEntry {
  readonly host: string;
  readonly port: number | undefined;
}

/**
 * `push.allow` parsed: host names (`hooks.internal`), host and port (`hooks.internal:8443`,
 * `127.0.0.1:9000`, `[::1]:9000`) and CIDRs (`10.0.0.0/8`, `::1/128`). A host entry allows
 * that name (or literal address) with any address it resolves to; a CIDR allows addresses.
 * Metadata addresses are opened only by an entry naming exactly them.
 */
export class AllowList {
  private readonly hosts: HostEntry[] = [];
  private readonly ranges: Range[] = [];

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase();
      if (entry === '') continue;
      if (entry.includes('/')) {
        const range = parseCidr(entry);
        if (!range) throw new Error(`push.allow: "${raw}" is not a valid CIDR`);
        this.ranges.push(range);
        continue;
      }
      const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
      if (bracketed) {
        this.hosts.push({ host: normalHost(bracketed[1] as string), port: portOf(bracketed[2], raw) });
      } else if (isIP(entry) === 6) {
        this.hosts.push({ host: normalHost(entry), port: undefined });
      } else {
        const [host, port] = entry.split(':') as [string, string | undefined];
        this.hosts.push({ host: normalHost(host), port: portOf(port, raw) });
      }
    }
  }

  /** Whether nothing is allowed beyond the default rules. */
  get empty(): boolean {
    return this.hosts.length === 0 && this.ranges.length === 0;
  }

  /** Whether the URL's host (as written, normalized) and port are listed. */
  allowsHost(hostname: string, port: number): boolean {
    const host = normalHost(hostname);
    return this.hosts.some((h) => h.host === host && (h.port === undefined || h.port === port));
  }

  /** Whether a CIDR entry (or an exact-address entry, for metadata) allows this address. */
  allowsAddress(address: string, reason: RefusalReason, port: number): boolean {
    const raw = ipBytes(address);
    if (!raw) return false;
    const bytes = unwrap(raw);
    const exact = this.hosts.some(
      (h) => (h.port === undefined || h.port === port) && sameBytes(ipBytes(h.host), bytes),
    );
    if (exact) return true;
    return this.ranges.some(
      (r) => inRange(bytes, r) && (reason !== 'metadata' || r.prefix === r.bytes.length * 8),
    );
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (!a) return false;
  const x = unwrap(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

/** Lower case, no trailing dot, no IPv6 brackets; IP literals in WHATWG URL's normal form. */
function normalHost(host: string): string {
  const plain = host
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^\[|\]$/g, '');
  if (isIP(plain) === 6) return new URL(`http://[${plain}]/`).hostname.slice(1, -1);
  try {
    // WHATWG URL normalizes odd IPv4 spellings (127.1, 0x7f.0.0.1, 2130706433).
    return new URL(`http://${plain}/`).hostname.replace(/\.$/, '');
  } catch {
    return plain;
  }
}

function portOf(text: string | undefined, raw: string): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535)
    throw new Error(`push.allow: "${raw}" has an invalid port`);
  return port;
}

/** The port a URL connects to (its default when it names none). */
export function urlPort(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/**
 * Why a webhook URL is refused before any lookup (a literal refused address, or a name
 * refused whatever it resolves to, and not allowed), or undefined when it may be tried.
 * The URL's host is taken as WHATWG URL normalizes it, so `127.1`, `2130706433`,
 * `0x7f.0.0.1` and `[::ffff:127.0.0.1]` are all loopback.
 */
export function refusedUrl(url: URL, allow: AllowList): RefusalReason | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = urlPort(url);
  if (allow.allowsHost(host, port)) return undefined;
  if (isIP(host)) {
    const reason = classifyAddress(host);
    return reason && !allow.allowsAddress(host, reason, port) ? reason : undefined;
  }
  const reason = classifyName(host);
  // `localhost` is as open as the loopback addresses it names; metadata names only by name.
  if (reason === 'loopback' && allow.allowsAddress('127.0.0.1', reason, port)) return undefined;
  return reason;
}
