/**
 * `agentd mcp-demo-server` as an MCP client sees it: the real CLI started as a child process
 * and driven over stdio by the official client. Needs `npm run build` first (`npm test` does it).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import {
  Client,
  InMemoryTransport,
  SdkError,
  SdkErrorCode,
  type CallToolResult,
  type ClientOptions,
  type Progress,
} from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../src/cli/main.js';
import { createDemoMcpServer } from '../../src/mcp/demo-server.js';

const BIN = join(resolve(import.meta.dirname, '../..'), 'bin/agentd.js');

const clients: Client[] = [];

/** Starts `agentd mcp-demo-server <args>` and connects a client to it; closed in afterAll. */
async function startServer(
  args: string[],
  env: Record<string, string> = {},
  options?: ClientOptions,
): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp-demo-server', ...args],
    env: { ...getDefaultEnvironment(), ...env },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'demo-server-test', version: '1.0.0' }, options);
  clients.push(client);
  await client.connect(transport);
  return client;
}

function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

/** A small HTTP server on 127.0.0.1 for fetch_url; `requests` records what reached it. */
let web: Server;
let origin: string;
const requests: { host: string; path: string }[] = [];
const stalled: ServerResponse[] = [];

let client: Client;

beforeAll(async () => {
  web = createServer((req: IncomingMessage, res) => {
    requests.push({ host: req.headers.host ?? '', path: req.url ?? '' });
    const port = (web.address() as AddressInfo).port;
    switch (req.url) {
      case '/hello':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('hello from the test server');
        return;
      case '/json':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      case '/big':
        res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(200 * 1024));
        return;
      case '/binary':
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(2048, 7));
        return;
      case '/to-hello':
        res.writeHead(302, { location: '/hello' }).end();
        return;
      case '/to-localhost':
        res.writeHead(302, { location: `http://localhost:${port}/hello` }).end();
        return;
      case '/loop':
        res.writeHead(302, { location: '/loop' }).end();
        return;
      case '/stall':
        stalled.push(res); // never answered; ended in afterAll
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  web.listen(0, '127.0.0.1');
  await once(web, 'listening');
  origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  client = await startServer(['--fetch-allow', '127.0.0.1,*.example.com']);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const res of stalled) res.destroy();
  web.close();
});

describe('tools/list', () => {
  it('lists the four tools with titles, described input fields, output schemas and hints', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['calculate', 'fetch_url', 'sleep', 'time_now']);
    for (const tool of tools) {
      expect(tool.title).toBeTruthy();
      expect(tool.description).toBeTruthy();
      expect(tool.outputSchema?.type).toBe('object');
      expect(tool.annotations?.readOnlyHint).toBe(true);
      const properties = Object.values(tool.inputSchema.properties ?? {}) as { description?: string }[];
      expect(properties.length).toBeGreaterThan(0);
      for (const p of properties) expect(p.description).toBeTruthy();
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.fetch_url?.annotations?.openWorldHint).toBe(true);
    expect(byName.fetch_url?.description).toContain('127.0.0.1, *.example.com');
    expect(byName.calculate?.inputSchema.required).toEqual(['expression']);
    expect(byName.sleep?.inputSchema.properties?.seconds).toMatchObject({ minimum: 0, maximum: 600 });
  });
});

describe('time_now', () => {
  it('tells the time in the requested zone, with its offset', async () => {
    const before = Date.now();
    const result = await client.callTool({ name: 'time_now', arguments: { timezone: 'Asia/Kolkata' } });
    const out = result.structuredContent as { timezone: string; iso: string; utc: string; formatted: string };
    expect(result.isError).toBeFalsy();
    expect(out.timezone).toBe('Asia/Kolkata');
    expect(out.iso).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+05:30$/);
    expect(Date.parse(out.iso)).toBe(Date.parse(out.utc));
    expect(Date.parse(out.utc)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(out.utc)).toBeLessThanOrEqual(Date.now() + 1000);
    expect(out.formatted).toContain('GMT+5:30');
    expect(textOf(result)).toContain(out.iso);
  });

  it('defaults to UTC', async () => {
    const result = await client.callTool({ name: 'time_now', arguments: {} });
    expect(result.structuredContent).toMatchObject({
      timezone: 'UTC',
      iso: expect.stringMatching(/\+00:00$/),
    });
  });

  it('names an unknown zone in its error', async () => {
    const result = await client.callTool({ name: 'time_now', arguments: { timezone: 'Mars/Olympus_Mons' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('unknown time zone "Mars/Olympus_Mons"');
  });
});

describe('calculate', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['2^3^2', 512],
    ['-2^2', -4],
    ['2^-1', 0.5],
    ['- -3', 3],
    ['10 % 4', 2],
    ['1.5e3 / .5', 3000],
    ['sqrt(16) + abs(-3) + round(2.5) + floor(-1.5) + ceil(1.2)', 10],
    ['max(1, 7, 3) - min(4, 2)', 5],
    ['2 * pi', 2 * Math.PI],
    ['E', Math.E],
  ])('%s = %s', async (expression, expected) => {
    const result = await client.callTool({ name: 'calculate', arguments: { expression } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ expression, result: expected });
    expect(textOf(result)).toBe(`${expression} = ${expected}`);
  });

  it.each([
    ['1 / 0', 'division by zero at position 3'],
    ['5 % (2 - 2)', 'modulo by zero at position 3'],
    ['2 + * 3', 'unexpected "*" at position 5'],
    ['(1 + 2', 'unclosed "(" at position 1'],
    ['1e999', 'number 1e999 overflows at position 1'],
    ['1 +', 'unexpected end of expression at position 4'],
    ['2 $ 3', 'unexpected character "$" at position 3'],
    ['1.2.3', 'unexpected ".3" at position 4'],
    [
      'foo(2)',
      'unknown name "foo" (known: functions sqrt, abs, round, floor, ceil, min, max; constants pi, e)',
    ],
    ['constructor', 'unknown name "constructor"'],
    ['toString(1)', 'unknown name "toString"'],
    ['__proto__ + 1', 'unknown name "__proto__"'],
    ['sqrt', 'sqrt is a function: write sqrt(...)'],
    ['sqrt(1, 2)', 'sqrt takes 1 argument, got 2'],
    ['max()', 'max takes at least 1 argument, got 0'],
    ['sqrt(-1)', 'sqrt has no real result'],
    ['10^400', '"^" overflows'],
    [`${'('.repeat(100)}1${')'.repeat(100)}`, 'nesting deeper than 64 levels'],
  ])('refuses %s: %s', async (expression, message) => {
    const result = await client.callTool({ name: 'calculate', arguments: { expression } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(message);
  });

  it('points at the position of a syntax error', async () => {
    const result = await client.callTool({ name: 'calculate', arguments: { expression: '2 + * 3' } });
    expect(textOf(result)).toBe('cannot evaluate: unexpected "*" at position 5\n  2 + * 3\n      ^');
  });

  it('refuses expressions longer than 1000 characters', async () => {
    const result = await client.callTool({
      name: 'calculate',
      arguments: { expression: `${'1+'.repeat(500)}1` },
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/expression[\s\S]*1000/);
  });

  it('treats JavaScript as a syntax error, never runs it', async () => {
    const result = await client.callTool({
      name: 'calculate',
      arguments: { expression: 'process.exit(1)' },
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('unexpected character "." at position 8');
    const after = await client.callTool({ name: 'calculate', arguments: { expression: '1 + 1' } });
    expect(after.structuredContent).toEqual({ expression: '1 + 1', result: 2 });
  });
});

describe('fetch_url', () => {
  interface Fetched {
    url: string;
    redirects: string[];
    status: number;
    contentType: string;
    bytes: number;
    truncated: boolean;
    text?: string;
  }
  const fetchUrl = (url: string, maxBytes?: number): Promise<CallToolResult> =>
    client.callTool({ name: 'fetch_url', arguments: { url, ...(maxBytes !== undefined && { maxBytes }) } });

  it('returns the status, content type and text of a page on an allowed host', async () => {
    const result = await fetchUrl(`${origin}/hello`);
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({
      url: `${origin}/hello`,
      redirects: [],
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      bytes: 26,
      truncated: false,
      text: 'hello from the test server',
    });
    expect(textOf(result)).toBe(
      `GET ${origin}/hello -> 200 OK (text/plain; charset=utf-8, 26 bytes)\nhello from the test server`,
    );
  });

  it('returns JSON as text and a 404 as a status', async () => {
    expect((await fetchUrl(`${origin}/json`)).structuredContent).toMatchObject({
      status: 200,
      text: '{"ok":true}',
    });
    const missing = await fetchUrl(`${origin}/nope`);
    expect(missing.isError).toBeFalsy();
    expect(missing.structuredContent).toMatchObject({ status: 404, text: 'not found' });
  });

  it('summarises a binary body instead of returning it', async () => {
    const result = await fetchUrl(`${origin}/binary`);
    const out = result.structuredContent as Fetched;
    expect(out).toMatchObject({ contentType: 'application/octet-stream', bytes: 2048, truncated: false });
    expect(out.text).toBeUndefined();
    expect(textOf(result)).toContain('[binary body: 2048 bytes, not shown]');
  });

  it('follows a redirect within the allow-list', async () => {
    const result = await fetchUrl(`${origin}/to-hello`);
    expect(result.structuredContent).toMatchObject({
      url: `${origin}/hello`,
      redirects: [`${origin}/to-hello`],
      text: 'hello from the test server',
    });
  });

  it('refuses a redirect to a host that is not allowed, without following it', async () => {
    const port = new URL(origin).port;
    const result = await fetchUrl(`${origin}/to-localhost`);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(
      `redirect to http://localhost:${port}/hello refused: host "localhost" is not on the allow-list (allowed: 127.0.0.1, *.example.com)`,
    );
    expect(requests.some((r) => r.host.startsWith('localhost'))).toBe(false);
  });

  it('stops after 3 redirects', async () => {
    const before = requests.length;
    const result = await fetchUrl(`${origin}/loop`);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('too many redirects (more than 3)');
    expect(requests.slice(before).map((r) => r.path)).toEqual(['/loop', '/loop', '/loop', '/loop']);
  });

  it.each([
    [
      'http://localhost/hello',
      'host "localhost" is not on the allow-list (allowed: 127.0.0.1, *.example.com)',
    ],
    ['https://example.com/', 'host "example.com" is not on the allow-list'],
    ['https://www.example.com.evil.test/', 'host "www.example.com.evil.test" is not on the allow-list'],
    ['file:///etc/passwd', 'only http and https URLs can be fetched, not file'],
    ['not a url', '"not a url" is not an absolute URL'],
  ])('refuses %s', async (url, message) => {
    const before = requests.length;
    const result = await fetchUrl(url);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(message);
    expect(requests.length).toBe(before);
  });

  it('cuts a body longer than 100 KiB, with a note', async () => {
    const result = await fetchUrl(`${origin}/big`);
    const out = result.structuredContent as Fetched;
    expect(out).toMatchObject({ bytes: 102_400, truncated: true });
    expect(out.text).toBe('x'.repeat(102_400));
    expect(textOf(result)).toContain('[truncated: only the first 102400 bytes were read]');
  });

  it('cuts the body at a smaller maxBytes, and never above the server limit', async () => {
    const small = await fetchUrl(`${origin}/hello`, 5);
    expect(small.structuredContent).toMatchObject({ bytes: 5, truncated: true, text: 'hello' });
    const large = await fetchUrl(`${origin}/big`, 10_000_000);
    expect(large.structuredContent).toMatchObject({ bytes: 102_400, truncated: true });
  });

  it('says fetching is disabled, and how to enable it, when nothing is allowed', async () => {
    const closed = await startServer([]);
    const result = await closed.callTool({ name: 'fetch_url', arguments: { url: `${origin}/hello` } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('fetching is disabled');
    expect(textOf(result)).toContain('--fetch-allow');
    expect(textOf(result)).toContain('AGENTD_FETCH_ALLOW');
  });

  it('takes the allow-list from AGENTD_FETCH_ALLOW', async () => {
    const fromEnv = await startServer([], { AGENTD_FETCH_ALLOW: '127.0.0.1' });
    const result = await fromEnv.callTool({ name: 'fetch_url', arguments: { url: `${origin}/hello` } });
    expect(result.structuredContent).toMatchObject({ status: 200, text: 'hello from the test server' });
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    // In-process, to use a short timeout without a flag for it.
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const server = createDemoMcpServer({ fetchAllow: ['127.0.0.1'], fetchTimeoutMs: 200 });
    await server.connect(serverSide);
    const local = new Client({ name: 'demo-server-test', version: '1.0.0' });
    await local.connect(clientSide);
    try {
      const result = await local.callTool({ name: 'fetch_url', arguments: { url: `${origin}/stall` } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(`timed out after 200 ms fetching ${origin}/stall`);
    } finally {
      await local.close();
      await server.close();
    }
  });
});

describe('sleep', () => {
  it('reports progress as each second starts, then the result', async () => {
    const progress: Progress[] = [];
    const result = await client.callTool(
      { name: 'sleep', arguments: { seconds: 2 } },
      { onprogress: (p) => progress.push(p) },
    );
    expect(result.structuredContent).toEqual({ slept: 2 });
    expect(progress.map((p) => [p.progress, p.total])).toEqual([
      [0, 2],
      [1, 2],
    ]);
    expect(progress[1]?.message).toBe('slept 1 of 2 s');
  });

  it('stops when the caller cancels, and keeps serving', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const call = client.callTool(
      { name: 'sleep', arguments: { seconds: 60 } },
      { signal: controller.signal, onprogress: () => controller.abort('enough') },
    );
    await expect(call).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
    const after = await client.callTool({ name: 'calculate', arguments: { expression: '6 * 7' } });
    expect(after.structuredContent).toEqual({ expression: '6 * 7', result: 42 });
  });

  it('lets a client time out a long call', async () => {
    const call = client.callTool({ name: 'sleep', arguments: { seconds: 60 } }, { timeout: 300 });
    await expect(call).rejects.toSatisfy(
      (e) => e instanceof SdkError && e.code === SdkErrorCode.RequestTimeout,
    );
  });

  it('refuses more than 600 seconds', async () => {
    const result = await client.callTool({ name: 'sleep', arguments: { seconds: 601 } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('seconds');
  });
});

describe('protocol eras', () => {
  it('serves a client that negotiates the 2026-07-28 revision as well as the 2025 handshake', async () => {
    const modern = await startServer([], {}, { versionNegotiation: { mode: 'auto' } });
    expect(modern.getProtocolEra()).toBe('modern');
    expect(client.getProtocolEra()).toBe('legacy');
    const { tools } = await modern.listTools();
    expect(tools).toHaveLength(4);
    const result = await modern.callTool({ name: 'calculate', arguments: { expression: '2^10' } });
    expect(result.structuredContent).toEqual({ expression: '2^10', result: 1024 });
  });
});

describe('the agentd mcp-demo-server process', () => {
  it('writes nothing to stdout on its own, and exits 0 when stdin closes', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp-demo-server'], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = once(child, 'exit');
    child.stdin.end();
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toContain('demo MCP server on stdio; fetch_url allows: nothing (fetching disabled)');
  });

  it('exits 0 when stdin closes in the middle of a call', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp-demo-server'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const send = (message: object): boolean => child.stdin.write(`${JSON.stringify(message)}\n`);
    const exited = once(child, 'exit');
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    await once(child.stdout, 'data'); // the initialize result
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'sleep', arguments: { seconds: 600 } },
    });
    child.stdin.end();
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
  });

  it('rejects an --fetch-allow entry that is not a host, with exit code 2', async () => {
    const err = collect();
    const code = await runCli(['mcp-demo-server', '--fetch-allow', 'example.com,https://example.org/x'], {
      stdout: collect().stream,
      stderr: err.stream,
      env: {},
    });
    expect(code).toBe(EXIT.USAGE);
    expect(err.text()).toContain('"https://example.org/x" is not a host name');
  });

  it('rejects a bad AGENTD_FETCH_ALLOW the same way', async () => {
    const err = collect();
    const code = await runCli(['mcp-demo-server'], {
      stdout: collect().stream,
      stderr: err.stream,
      env: { AGENTD_FETCH_ALLOW: 'example.com:8080' },
    });
    expect(code).toBe(EXIT.USAGE);
    expect(err.text()).toContain('AGENTD_FETCH_ALLOW: "example.com:8080" is not a host name');
  });

  it('explains itself in --help', async () => {
    const out = collect();
    const code = await runCli(['mcp-demo-server', '--help'], {
      stdout: out.stream,
      stderr: collect().stream,
      env: {},
    });
    expect(code).toBe(EXIT.OK);
    for (const words of [
      '--fetch-allow <hosts>',
      'AGENTD_FETCH_ALLOW',
      'time_now',
      'calculate',
      'fetch_url',
      'sleep',
    ])
      expect(out.text()).toContain(words);
  });
});

function collect(): { stream: Writable; text(): string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}
