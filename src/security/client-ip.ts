/**
 * The client address rate limits count by. Without `trustProxy` it is the socket's peer; with
 * it, the first X-Forwarded-For hop (only safe behind a proxy you run that sets the header).
 * IPv4-mapped IPv6 addresses count as their IPv4 address, and an IPv6 client counts by its
 * /64 network: one host is usually given a whole /64 and could otherwise rotate through it.
 */
import { isIP } from 'node:net';

/** The key an address is counted under: the IPv4 address, or the IPv6 /64 as `<prefix>::/64`. */
export function addressKey(address: string): string {
  const bare = address
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1] as string;
  if (isIP(bare) !== 6) return bare;
  return `${ipv6Groups(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const part = (s: string): string[] =>
    s === ''
      ? []
      : s.split(':').flatMap((g) => {
          if (!g.includes('.')) return [g];
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
        });
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16).toString(16));
}

/** The client address of an HTTP request or gRPC call, as a counting key. */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trustProxy: boolean,
): string {
  if (trustProxy && forwardedFor !== undefined) {
    const header = typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',');
    const first = header.split(',')[0]?.trim();
    if (first && isIP(first.replace(/^\[|\]$/g, '').replace(/%.*$/, '')) !== 0) return addressKey(first);
  }
  return peer ? addressKey(peer) : 'unknown';
}

/** The host of a grpc-js peer string (`ipv4:1.2.3.4:5`, `1.2.3.4:5`, `[::1]:5`, `ipv6:[::1]:5`). */
export function grpcPeerHost(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]/.exec(bare);
  if (bracketed) return bracketed[1] as string;
  const colons = bare.split(':').length - 1;
  return colons === 1 ? bare.slice(0, bare.lastIndexOf(':')) : bare;
}
