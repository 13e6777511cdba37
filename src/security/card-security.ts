/**
 * What an agent card declares about authentication (A2A v1.0 §4.5): exactly the schemes
 * this server accepts — `apiKey` (header X-API-Key), `bearer` (HTTP bearer, JWT), `mtls` —
 * and requirements saying that any one of them will do, each listing the agent's scopes.
 */
import type { AgentCard, SecurityRequirement, SecurityScheme } from '@a2a-js/sdk';
import type { AuthSchemes } from './authenticator.js';

/** Names of the schemes in `securitySchemes`. */
export const SCHEME_NAMES = { apiKey: 'apiKey', jwt: 'bearer', mtls: 'mtls' } as const;

export function cardSecurity(
  schemes: AuthSchemes,
  agentScopes: readonly string[],
): Pick<AgentCard, 'securitySchemes' | 'securityRequirements'> {
  const securitySchemes: Record<string, SecurityScheme> = {};
  if (schemes.apiKey)
    securitySchemes[SCHEME_NAMES.apiKey] = {
      scheme: {
        $case: 'apiKeySecurityScheme',
        value: { description: 'API key in the X-API-Key header', location: 'header', name: 'X-API-Key' },
      },
    };
  if (schemes.jwt)
    securitySchemes[SCHEME_NAMES.jwt] = {
      scheme: {
        $case: 'httpAuthSecurityScheme',
        value: { description: 'JWT in Authorization: Bearer', scheme: 'Bearer', bearerFormat: 'JWT' },
      },
    };
  if (schemes.mtls)
    securitySchemes[SCHEME_NAMES.mtls] = {
      scheme: { $case: 'mtlsSecurityScheme', value: { description: 'Client certificate (mutual TLS)' } },
    };
  const securityRequirements: SecurityRequirement[] = Object.keys(securitySchemes).map((name) => ({
    schemes: { [name]: { list: [...agentScopes] } },
  }));
  return { securitySchemes, securityRequirements };
}
