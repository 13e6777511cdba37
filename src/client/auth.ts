/**
 * Credentials an outbound A2A call presents: an API key (`X-API-Key`) and/or a bearer token.
 * They travel as A2A service parameters, which every SDK transport sends: HTTP headers on
 * JSON-RPC and HTTP+JSON, metadata on gRPC.
 */
import type { BeforeArgs, CallInterceptor } from '@a2a-js/sdk/client';

export interface ClientCredentials {
  readonly apiKey?: string | undefined;
  /** A bearer token (a JWT), sent as `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
}

/** The headers (or gRPC metadata) carrying the credentials. */
export function authHeaders(credentials: ClientCredentials | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (credentials?.apiKey) headers['x-api-key'] = credentials.apiKey;
  if (credentials?.token) headers.authorization = `Bearer ${credentials.token}`;
  return headers;
}

/** Credentials from the environment (AGENTD_API_KEY, AGENTD_TOKEN), overridden by explicit ones. */
export function credentialsFrom(
  explicit: ClientCredentials,
  env: NodeJS.ProcessEnv = process.env,
): ClientCredentials {
  return {
    apiKey: explicit.apiKey ?? (env.AGENTD_API_KEY || undefined),
    token: explicit.token ?? (env.AGENTD_TOKEN || undefined),
  };
}

/** An SDK client interceptor adding the credentials to every call, on every transport. */
export function authInterceptor(credentials: ClientCredentials): CallInterceptor {
  const headers = authHeaders(credentials);
  return {
    before(args: BeforeArgs): Promise<void> {
      args.options = {
        ...args.options,
        serviceParameters: { ...headers, ...args.options?.serviceParameters },
      };
      return Promise.resolve();
    },
    after: () => Promise.resolve(),
  };
}
