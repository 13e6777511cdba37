/**
 * The client address rate limits count by. Without trusted proxies it is the socket's peer.
 * With `n` of them it is the n-th X-Forwarded-For address from the right: each proxy appends
 * the address it was reached from, so the right-most `n` entries are written by proxies you run,
 * while anything further left came from the client and is never believed (a client can send
 * any X-Forwarded-For it likes). IPv4-mapped IPv6 addresses count as their IPv4 address, and
 * an IPv6 client counts by its /64 network: one host is usually given a whole /64 and could
 * otherwise rotate through it.
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

/**
 * The client address of an HTTP request or gRPC call, as a counting key: the `trustedProxies`-th
 * X-Forwarded-For address from the right (all header values in order, comma-separated), or the
 * socket's peer when there are no trusted proxies, fewer addresses than that, or that entry is
 * not an address.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trustedProxies: number,
): string {
  if (trustedProxies > 0 && forwardedFor !== undefined) {
    const header = typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',');
    const hops = header.split(',');
    const hop =
      hops.length >= trustedProxies ? hopAddress(hops[hops.length - trustedProxies] ?? '') : undefined;
    if (hop !== undefined) return addressKey(hop);
  }
  return peer ? addressKey(peer) : 'unknown';
}

/** The address of one X-Forwarded-For entry (`1.2.3.4`, `1.2.3.4:5`, `2001:db8::1`, `[2001:db8::1]:5`). */
function hopAddress(entry: string): string | undefined {
  const value = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  const v4WithPort = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(value);
  const address = bracketed?.[1] ?? v4WithPort?.[1] ?? value;
  return isIP(address.replace(/%.*$/, '')) === 0 ? undefined : address;
}

/** The host of a grpc-js peer string (`ipv4:1.2.3.4:5`, `1.2.3.4:5`, `[::1]:5`, `ipv6:[::1]:5`). */
export function grpcPeerHost(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]/.exec(bare);
  if (bracketed) return bracketed[1] as string;
  const colons = bare.split(':').length - 1;
  return colons === 1 ? bare.slice(0, bare.lastIndexOf(':')) : bare;
}
