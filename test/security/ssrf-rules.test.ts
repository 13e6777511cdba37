/**
 * Which webhook URLs are refused before any lookup, as a user writes them: loopback in its
 * many spellings (normalized the way WHATWG URL does), private, link-local, CGNAT,
 * multicast, unspecified and metadata targets, and what `push.allow` opens.
 */
import { describe, expect, it } from 'vitest';
import { AllowList, classifyAddress, refusedUrl } from '../../src/security/ssrf-guard.js';

const none = new AllowList([]);
const refused = (url: string, allow = none): string | undefined => refusedUrl(new URL(url), allow);

describe('webhook URLs refused by default', () => {
  it.each([
    ['http://127.0.0.1/hook', 'loopback'],
    ['http://127.1/hook', 'loopback'],
    ['http://2130706433/hook', 'loopback'],
    ['http://0x7f000001/hook', 'loopback'],
    ['http://0x7f.0.0.1/hook', 'loopback'],
    ['http://0177.0.0.1/hook', 'loopback'],
    ['http://127.255.0.9:8443/hook', 'loopback'],
    ['http://[::1]/hook', 'loopback'],
    ['http://[::ffff:127.0.0.1]/hook', 'loopback'],
    ['http://[0:0:0:0:0:ffff:7f00:1]/hook', 'loopback'],
    ['http://localhost/hook', 'loopback'],
    ['http://LOCALHOST./hook', 'loopback'],
    ['http://api.localhost/hook', 'loopback'],
    ['http://0.0.0.0/hook', 'unspecified'],
    ['http://0/hook', 'unspecified'],
    ['http://[::]/hook', 'unspecified'],
    ['http://10.1.2.3/hook', 'private'],
    ['http://172.16.0.1/hook', 'private'],
    ['http://172.31.255.255/hook', 'private'],
    ['http://192.168.1.10/hook', 'private'],
    ['http://[fd12:3456::1]/hook', 'private'],
    ['http://[::ffff:10.0.0.1]/hook', 'private'],
    ['http://169.254.10.1/hook', 'link_local'],
    ['http://[fe80::1]/hook', 'link_local'],
    ['http://100.64.0.1/hook', 'cgnat'],
    ['http://100.127.255.254/hook', 'cgnat'],
    ['http://224.0.0.1/hook', 'multicast'],
    ['http://[ff02::1]/hook', 'multicast'],
    ['http://255.255.255.255/hook', 'multicast'],
    ['http://169.254.169.254/latest/meta-data/', 'metadata'],
    ['http://[fd00:ec2::254]/latest/meta-data/', 'metadata'],
    ['http://[::ffff:169.254.169.254]/', 'metadata'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'metadata'],
    ['http://[64:ff9b::7f00:1]/hook', 'loopback'],
  ])('%s is refused as %s', (url, reason) => {
    expect(refused(url)).toBe(reason);
  });

  it.each([
    'https://hooks.example.com/a2a',
    'http://8.8.8.8/hook',
    'http://172.32.0.1/hook',
    'http://100.128.0.1/hook',
    'http://[2001:4860::8888]/hook',
    'http://192.169.0.1/hook',
  ])('%s may be tried', (url) => {
    expect(refused(url)).toBeUndefined();
  });
});

describe('push.allow', () => {
  it('a CIDR opens the addresses in it, in every spelling, and no others', () => {
    const allow = new AllowList(['127.0.0.0/8']);
    expect(refused('http://127.0.0.1:9000/hook', allow)).toBeUndefined();
    expect(refused('http://127.1:9000/hook', allow)).toBeUndefined();
    expect(refused('http://[::ffff:127.0.0.1]/hook', allow)).toBeUndefined();
    expect(refused('http://localhost:9000/hook', allow)).toBeUndefined();
    expect(refused('http://[::1]/hook', allow)).toBe('loopback');
    expect(refused('http://10.0.0.1/hook', allow)).toBe('private');
  });

  it('host:port opens that port only; a bare host every port', () => {
    const allow = new AllowList(['127.0.0.1:9000', 'hooks.internal', '[::1]:7000']);
    expect(refused('http://127.0.0.1:9000/hook', allow)).toBeUndefined();
    expect(refused('http://127.0.0.1:9001/hook', allow)).toBe('loopback');
    expect(refused('http://[::1]:7000/hook', allow)).toBeUndefined();
    expect(refused('http://[::1]:7001/hook', allow)).toBe('loopback');
  });

  it('a wide CIDR does not open a metadata endpoint; naming it exactly does', () => {
    expect(refused('http://169.254.169.254/', new AllowList(['169.254.0.0/16']))).toBe('metadata');
    expect(refused('http://169.254.10.1/', new AllowList(['169.254.0.0/16']))).toBeUndefined();
    expect(refused('http://169.254.169.254/', new AllowList(['169.254.169.254/32']))).toBeUndefined();
  });

  it('refuses a malformed entry naming it', () => {
    expect(() => new AllowList(['10.0.0.0/33'])).toThrow(/push.allow: "10.0.0.0\/33"/);
    expect(() => new AllowList(['hooks.internal:99999'])).toThrow(/invalid port/);
  });
});

describe('resolved addresses', () => {
  it('IPv4-mapped and NAT64 IPv6 addresses are judged by the IPv4 address they carry', () => {
    expect(classifyAddress('::ffff:192.168.0.1')).toBe('private');
    expect(classifyAddress('::ffff:c0a8:1')).toBe('private');
    expect(classifyAddress('64:ff9b::a9fe:a9fe')).toBe('metadata');
    expect(classifyAddress('::ffff:8.8.8.8')).toBeUndefined();
  });
});
