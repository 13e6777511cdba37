/**
 * Every surface × every credential case: no credentials, a wrong API key, a JWT with a bad
 * signature, expired, for another audience, from another issuer, lacking the agent's
 * scope, an API key removed from the key file while the server runs, and valid ones.
 * Real JWTs signed here, verified against a real JWKS served on loopback.
 */
import { Client as McpClient, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskState } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectGrpcError, RawGrpcClient } from '../helpers/grpc.js';
import { sendRequest } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import {
  expectRestError,
  expectRpcError,
  messageJson,
  readResponse,
  rest,
  rpc,
  type WireResponse,
} from '../helpers/wire.js';
import { ISSUER_AUDIENCE, TestIssuer } from './issuer.js';

type Headers = Record<string, string>;
type Case =
  | 'none'
  | 'wrongKey'
  | 'badSignature'
  | 'expired'
  | 'wrongAudience'
  | 'wrongIssuer'
  | 'missingScope'
  | 'removedKey'
  | 'valid';
const CASES: readonly Case[] = [
  'none',
  'wrongKey',
  'badSignature',
  'expired',
  'wrongAudience',
  'wrongIssuer',
  'missingScope',
  'removedKey',
  'valid',
];

let issuer: TestIssuer;
let t: TestServer;
let dir: string;
let raw: RawGrpcClient;
const creds = {} as Record<Case, Headers>;

const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  issuer = await TestIssuer.start();
  dir = mkdtempSync(join(tmpdir(), 'agentd-auth-'));
  const keyFile = join(dir, 'keys.yaml');
  writeFileSync(
    keyFile,
    '- { key: file-key-kept, principal: bob, scopes: [echo:use] }\n- { key: file-key-removed, principal: carol, scopes: [echo:use] }\n',
  );
  t = await startServer({
    agents: [
      {
        name: 'echo',
        kind: 'echo',
        default: true,
        scopes: ['echo:use'],
        extendedCard: { description: 'for members' },
      },
      { name: 'countdown', kind: 'countdown', stepMs: 20 },
    ],
    auth: {
      apiKeys: [{ key: 'config-key', principal: 'dave', scopes: ['echo:use'] }],
      apiKeysFile: keyFile,
      jwt: { jwksUrl: issuer.jwksUrl, issuer: issuer.url, audience: ISSUER_AUDIENCE },
    },
  });
  raw = new RawGrpcClient(t.server.grpcAddress as string);
  // The key file changes while the server runs: the removed key must stop working.
  const carol = { 'x-api-key': 'file-key-removed' };
  expect((await rpc(t.url, 'echo', 'SendMessage', { message: messageJson('before') }, carol)).status).toBe(
    200,
  );
  writeFileSync(keyFile, '- { key: file-key-kept, principal: bob, scopes: [echo:use] }\n');
  await eventually(
    async () =>
      (await rpc(t.url, 'echo', 'SendMessage', { message: messageJson('x') }, carol)).status === 401,
    10_000,
    'the removed key to be refused',
  );
  creds.none = {};
  creds.wrongKey = { 'x-api-key': 'not-a-key' };
  creds.badSignature = bearer(
    await issuer.token({ scope: 'echo:use' }, { key: await TestIssuer.foreignKey() }),
  );
  creds.expired = bearer(await issuer.token({ scope: 'echo:use' }, { expiresIn: -3600 }));
  creds.wrongAudience = bearer(await issuer.token({ scope: 'echo:use' }, { audience: 'someone-else' }));
  creds.wrongIssuer = bearer(await issuer.token({ scope: 'echo:use' }, { issuer: 'https://evil.example' }));
  creds.missingScope = bearer(await issuer.token({ scope: 'countdown:use other' }));
  creds.removedKey = carol;
  creds.valid = bearer(await issuer.token({ scope: 'echo:use' }));
}, 30_000);

afterAll(async () => {
  raw?.client.close();
  await t?.close();
  await issuer?.close();
  rmSync(dir, { recursive: true, force: true });
});

const unauthenticatedCases = CASES.filter((c) => c !== 'valid' && c !== 'missingScope');

function expectChallenge(res: WireResponse): void {
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toContain('Bearer realm="agentd"');
  expect(challenge).toContain('ApiKey');
}

describe('JSON-RPC SendMessage', () => {
  const send = (c: Case): Promise<WireResponse> =>
    rpc(t.url, 'echo', 'SendMessage', { message: messageJson('hi') }, creds[c]);
  it.each(unauthenticatedCases)('%s → 401 UNAUTHENTICATED as a JSON-RPC error', async (c) => {
    const res = await send(c);
    expectRpcError(res, { code: -32070, reason: 'UNAUTHENTICATED', http: 401 });
    expectChallenge(res);
    // The credential is never echoed.
    for (const v of Object.values(creds[c])) expect(res.text).not.toContain(v.replace(/^Bearer /, ''));
  });
  it('missing scope → 403 PERMISSION_DENIED naming the scope', async () => {
    const res = await send('missingScope');
    expectRpcError(res, {
      code: -32071,
      reason: 'PERMISSION_DENIED',
      http: 403,
      messageIncludes: ['echo:use'],
    });
    expect(res.headers.get('www-authenticate')).toContain('insufficient_scope');
  });
  it('valid JWT → the task completes', async () => {
    const res = await send('valid');
    expect(res.status, res.text).toBe(200);
    expect(res.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
  });
  it('valid API keys (config and the key file that remains) → served', async () => {
    for (const key of ['config-key', 'file-key-kept']) {
      const res = await rpc(
        t.url,
        'echo',
        'SendMessage',
        { message: messageJson('hi') },
        { 'x-api-key': key },
      );
      expect(res.status, res.text).toBe(200);
      expect(res.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
    }
  });
});

describe('REST message:send', () => {
  const send = (c: Case): Promise<WireResponse> =>
    rest(t.url, 'echo', 'POST', '/message:send', { message: messageJson('hi') }, creds[c]);
  it.each(unauthenticatedCases)('%s → 401 UNAUTHENTICATED (google.rpc.Status)', async (c) => {
    const res = await send(c);
    expectRestError(res, { http: 401, status: 'UNAUTHENTICATED', reason: 'UNAUTHENTICATED' });
    expectChallenge(res);
  });
  it('missing scope → 403 PERMISSION_DENIED', async () => {
    expectRestError(await send('missingScope'), {
      http: 403,
      status: 'PERMISSION_DENIED',
      reason: 'PERMISSION_DENIED',
      messageIncludes: ['echo:use'],
    });
  });
  it('valid → the task completes', async () => {
    const res = await send('valid');
    expect(res.status, res.text).toBe(200);
    expect(res.json.task.status.state).toBe('TASK_STATE_COMPLETED');
  });
});

describe('gRPC SendMessage and SendStreamingMessage', () => {
  const request = { ...sendRequest('hi'), tenant: 'echo' };
  it.each(unauthenticatedCases)('%s → UNAUTHENTICATED with ErrorInfo (unary and streaming)', async (c) => {
    expectGrpcError(await raw.unaryError('sendMessage', request, { metadata: creds[c] }), {
      code: grpc.status.UNAUTHENTICATED,
      reason: 'UNAUTHENTICATED',
    });
    const failure = await raw.stream('sendStreamingMessage', request, { metadata: creds[c] }).failure();
    expect(failure.events).toEqual([]);
    expectGrpcError(failure.error, { code: grpc.status.UNAUTHENTICATED, reason: 'UNAUTHENTICATED' });
  });
  it('missing scope → PERMISSION_DENIED', async () => {
    expectGrpcError(await raw.unaryError('sendMessage', request, { metadata: creds.missingScope }), {
      code: grpc.status.PERMISSION_DENIED,
      reason: 'PERMISSION_DENIED',
      messageIncludes: ['echo:use'],
    });
  });
  it('valid → the task completes', async () => {
    const res = await raw.unary('sendMessage', request, { metadata: creds.valid });
    expect(res.payload?.$case).toBe('task');
    if (res.payload?.$case === 'task')
      expect(res.payload.value.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const events = await raw.stream('sendStreamingMessage', request, { metadata: creds.valid }).rest();
    expect(events.length).toBeGreaterThan(0);
  });
});

describe('/mcp', () => {
  async function mcp(headers: Headers): Promise<McpClient> {
    const client = new McpClient({ name: 'auth-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL('/mcp', t.url), { requestInit: { headers } }),
    );
    return client;
  }
  it.each(unauthenticatedCases)('%s → 401 with a JSON-RPC UNAUTHENTICATED error', async (c) => {
    const res = await readResponse(
      await fetch(`${t.url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...creds[c],
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      }),
    );
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe(-32070);
    expectChallenge(res);
  });
  it('missing scope → the agent’s tools are neither listed nor callable', async () => {
    const client = await mcp(creds.missingScope);
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).not.toContain('echo__echo');
      expect(names.some((n) => n.startsWith('countdown__'))).toBe(true);
      const result = await client
        .callTool({ name: 'echo__echo', arguments: { text: 'hi' } })
        .catch((e: unknown) => e);
      expect(result instanceof Error ? result.message : JSON.stringify(result)).toMatch(
        /echo__echo|not found|unknown/i,
      );
    } finally {
      await client.close();
    }
  });
  it('valid → echo is a tool and calling it answers', async () => {
    const client = await mcp(creds.valid);
    try {
      expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('echo__echo');
      const result = (await client.callTool({ name: 'echo__echo', arguments: { text: 'over mcp' } })) as {
        isError?: boolean;
        content: Array<{ type: string; text?: string }>;
      };
      expect(result.isError ?? false).toBe(false);
      expect(result.content.map((c) => c.text ?? '').join('')).toContain('over mcp');
    } finally {
      await client.close();
    }
  });
});

describe('/api/v1/agents', () => {
  const list = async (c: Case): Promise<WireResponse> =>
    readResponse(await fetch(`${t.url}/api/v1/agents`, { headers: creds[c] }));
  it.each(unauthenticatedCases)('%s → 401 UNAUTHENTICATED', async (c) => {
    const res = await list(c);
    expectRestError(res, { http: 401, status: 'UNAUTHENTICATED', reason: 'UNAUTHENTICATED' });
    expectChallenge(res);
  });
  it('missing scope → agents the caller may not use are left out', async () => {
    const res = await list('missingScope');
    expect(res.status).toBe(200);
    expect(res.json.agents.map((a: { name: string }) => a.name)).toEqual(['countdown']);
  });
  it('valid → every agent', async () => {
    const res = await list('valid');
    expect(res.status).toBe(200);
    expect(res.json.agents.map((a: { name: string }) => a.name).sort()).toEqual(['countdown', 'echo']);
  });
});

describe('extended agent card over REST', () => {
  const card = (c: Case): Promise<WireResponse> =>
    rest(t.url, 'echo', 'GET', '/extendedAgentCard', undefined, creds[c]);
  it.each(unauthenticatedCases)('%s → 401 UNAUTHENTICATED', async (c) => {
    const res = await card(c);
    expectRestError(res, { http: 401, status: 'UNAUTHENTICATED', reason: 'UNAUTHENTICATED' });
    expectChallenge(res);
  });
  it('missing scope → served (the extended card needs authentication, not the agent’s scopes)', async () => {
    const res = await card('missingScope');
    expect(res.status, res.text).toBe(200);
    expect(res.json.description).toBe('for members');
  });
  it('valid → the extended card', async () => {
    const res = await card('valid');
    expect(res.status, res.text).toBe(200);
    expect(res.json.description).toBe('for members');
  });
});

describe('extended agent card over JSON-RPC (GetExtendedAgentCard)', () => {
  const card = (c: Case): Promise<WireResponse> => rpc(t.url, 'echo', 'GetExtendedAgentCard', {}, creds[c]);
  it.each(unauthenticatedCases)('%s → 401 UNAUTHENTICATED as a JSON-RPC error', async (c) => {
    const res = await card(c);
    expectRpcError(res, { code: -32070, reason: 'UNAUTHENTICATED', http: 401 });
    expectChallenge(res);
  });
  it.each(['missingScope', 'valid'] as const)('%s → the extended card', async (c) => {
    const res = await card(c);
    expect(res.status, res.text).toBe(200);
    expect(res.json.result.description).toBe('for members');
  });
});

describe('extended agent card over gRPC (GetExtendedAgentCard)', () => {
  const request = { tenant: 'echo' };
  it.each(unauthenticatedCases)('%s → UNAUTHENTICATED with ErrorInfo', async (c) => {
    expectGrpcError(await raw.unaryError('getExtendedAgentCard', request, { metadata: creds[c] }), {
      code: grpc.status.UNAUTHENTICATED,
      reason: 'UNAUTHENTICATED',
    });
  });
  it.each(['missingScope', 'valid'] as const)('%s → the extended card', async (c) => {
    const card = await raw.unary('getExtendedAgentCard', request, { metadata: creds[c] });
    expect(card.description).toBe('for members');
  });
});

describe('open paths', () => {
  it.each([
    '/health',
    '/ready',
    '/startup',
    '/.well-known/agent-card.json',
    '/a2a/echo/.well-known/agent-card.json',
  ])('%s answers without credentials', async (path) => {
    const res = await fetch(`${t.url}${path}`);
    expect(res.status).toBe(200);
  });
  it('unknown paths need credentials too (the route map is not disclosed)', async () => {
    expect((await fetch(`${t.url}/a2a/echo/anything-else`)).status).toBe(401);
  });
});

it('a failed authentication never puts the credential in the log', () => {
  const text = JSON.stringify(t.logs);
  for (const c of CASES)
    for (const v of Object.values(creds[c] ?? {})) expect(text).not.toContain(v.replace(/^Bearer /, ''));
  expect(text).not.toContain('config-key');
});
