/**
 * The official @a2a-js/sdk client authenticates from what the card declares: it reads
 * `securitySchemes` / `securityRequirements`, and an AuthenticationHandler (or a call
 * interceptor, for gRPC) supplies the credential the declared scheme names. The SDK
 * executor behind the agent sees the caller as the SDK's `User`.
 */
import { AgentCard, type Message } from '@a2a-js/sdk';
import {
  ClientFactory,
  ClientFactoryOptions,
  createAuthenticatingFetchWithRetry,
  JsonRpcTransportFactory,
  RestTransportFactory,
  type AuthenticationHandler,
} from '@a2a-js/sdk/client';
import { GrpcTransportFactory } from '@a2a-js/sdk/client/grpc';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authInterceptor } from '../../src/client/auth.js';
import { closeSdkClient } from '../helpers/grpc.js';
import { sendRequest } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { hsToken } from './issuer.js';

const FIXTURE = resolve(import.meta.dirname, '../fixtures/whoami-agent.mjs');
const SECRET = 'a-shared-secret-for-hs256-tokens-in-tests';
let t: TestServer;

beforeAll(async () => {
  t = await startServer({
    agents: [
      {
        name: 'whoami',
        kind: 'module',
        module: FIXTURE,
        export: 'WhoAmIExecutor',
        default: true,
        scopes: ['who:ask'],
      },
    ],
    auth: {
      apiKeys: [{ key: 'interop-key', principal: 'sdk-client', scopes: ['who:ask'] }],
      jwt: { secret: SECRET },
    },
  });
});
afterAll(() => t?.close());

async function card(): Promise<AgentCard> {
  const res = await fetch(`${t.url}/a2a/whoami/.well-known/agent-card.json`, {
    headers: { 'a2a-version': '1.0' },
  });
  return AgentCard.fromJSON(await res.json());
}

const textOf = (m: Message): string =>
  m.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');

describe('the card declares the configured schemes', () => {
  it('apiKey (header X-API-Key) and bearer JWT, each enough alone, with the agent scopes', async () => {
    const c = await card();
    expect(c.securitySchemes).toEqual({
      apiKey: {
        scheme: {
          $case: 'apiKeySecurityScheme',
          value: { description: expect.any(String), location: 'header', name: 'X-API-Key' },
        },
      },
      bearer: {
        scheme: {
          $case: 'httpAuthSecurityScheme',
          value: { description: expect.any(String), scheme: 'Bearer', bearerFormat: 'JWT' },
        },
      },
    });
    expect(c.securityRequirements).toEqual([
      { schemes: { apiKey: { list: ['who:ask'] } } },
      { schemes: { bearer: { list: ['who:ask'] } } },
    ]);
  });
});

describe('SDK client with an AuthenticationHandler built from the card', () => {
  /** Supplies the credential for the first scheme the card requires that we hold. */
  function handlerFor(
    c: AgentCard,
    held: { apiKey?: string; token?: string },
  ): AuthenticationHandler & { retries: number } {
    const headersFor = (): Record<string, string> => {
      for (const req of c.securityRequirements) {
        for (const name of Object.keys(req.schemes)) {
          const scheme = c.securitySchemes[name]?.scheme;
          if (scheme?.$case === 'apiKeySecurityScheme' && held.apiKey)
            return { [scheme.value.name]: held.apiKey };
          if (scheme?.$case === 'httpAuthSecurityScheme' && held.token)
            return { authorization: `Bearer ${held.token}` };
        }
      }
      return {};
    };
    const handler = {
      retries: 0,
      // The first request goes out without credentials: the 401's challenge makes the handler supply them.
      headers: () => Promise.resolve({}),
      shouldRetryWithHeaders: (_req: RequestInit, res: Response) => {
        if (res.status !== 401 || !res.headers.get('www-authenticate')) return Promise.resolve(undefined);
        handler.retries++;
        return Promise.resolve(headersFor());
      },
    };
    return handler;
  }

  it.each(['JSONRPC', 'HTTP+JSON'] as const)(
    '%s with the API key: the executor sees the user',
    async (binding) => {
      const c = await card();
      const handler = handlerFor(c, { apiKey: 'interop-key' });
      const fetchImpl = createAuthenticatingFetchWithRetry(fetch, handler);
      const factory = new ClientFactory(
        ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
          transports: [new JsonRpcTransportFactory({ fetchImpl }), new RestTransportFactory({ fetchImpl })],
          preferredTransports: [binding],
        }),
      );
      const client = await factory.createFromAgentCard(c);
      const result = await client.sendMessage(sendRequest('who am I?'));
      expect('messageId' in result && textOf(result)).toBe('user=sdk-client authenticated=true');
      expect(handler.retries).toBe(1);
    },
  );

  it('JSON-RPC with a bearer JWT (HS256)', async () => {
    const c = await card();
    const token = await hsToken(SECRET, { sub: 'jwt-user', scope: 'who:ask' });
    const fetchImpl = createAuthenticatingFetchWithRetry(fetch, handlerFor(c, { token }));
    const client = await new ClientFactory(
      ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
        transports: [new JsonRpcTransportFactory({ fetchImpl })],
      }),
    ).createFromAgentCard(c);
    const result = await client.sendMessage(sendRequest('who am I?'));
    expect('messageId' in result && textOf(result)).toBe('user=jwt-user authenticated=true');
  });

  it('gRPC with an interceptor sending the credential as metadata', async () => {
    const c = await card();
    const client = await new ClientFactory(
      ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
        transports: [new GrpcTransportFactory()],
        preferredTransports: ['GRPC'],
        clientConfig: { interceptors: [authInterceptor({ apiKey: 'interop-key' })] },
      }),
    ).createFromAgentCard(c);
    try {
      const result = await client.sendMessage(sendRequest('who am I?'));
      expect('messageId' in result && textOf(result)).toBe('user=sdk-client authenticated=true');
    } finally {
      closeSdkClient(client);
    }
  });

  it('without credentials the SDK client fails with the UNAUTHENTICATED error', async () => {
    const client = await new ClientFactory(
      ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
        transports: [new JsonRpcTransportFactory()],
      }),
    ).createFromAgentCard(await card());
    await expect(client.sendMessage(sendRequest('who am I?'))).rejects.toThrow(/Authentication required/);
  });
});
