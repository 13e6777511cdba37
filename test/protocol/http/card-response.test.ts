import { AgentCard } from '@a2a-js/sdk';
import { duplicateInterfacesForLegacy } from '@a2a-js/sdk/compat/v0_3';
import { describe, expect, it } from 'vitest';
import { agentCardJson, wantsV1Card } from '../../../src/protocol/http/card-response.js';

const base: AgentCard = {
  name: 'secured',
  description: 'an agent behind an API key',
  supportedInterfaces: [
    { url: 'http://a.example/a2a/secured/', protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
  ],
  provider: undefined,
  version: '2.0.0',
  documentationUrl: undefined,
  capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: true },
  securitySchemes: {
    key: {
      scheme: {
        $case: 'apiKeySecurityScheme',
        value: { description: '', location: 'header', name: 'x-api-key' },
      },
    },
  },
  securityRequirements: [{ schemes: { key: { list: [] } } }],
  defaultInputModes: ['text/plain'],
  defaultOutputModes: ['text/plain'],
  skills: [
    {
      id: 's',
      name: 'skill',
      description: '',
      tags: ['t'],
      examples: [],
      inputModes: [],
      outputModes: [],
      securityRequirements: [],
    },
  ],
  signatures: [],
  iconUrl: undefined,
};
const withV03: AgentCard = {
  ...base,
  supportedInterfaces: duplicateInterfacesForLegacy(base.supportedInterfaces, ['JSONRPC']),
};

describe('which agent card a client gets', () => {
  it('A2A-Version 1.x asks for the v1.0 card; none, or 0.x, is a v0.3 client', () => {
    expect([undefined, '0.3', '0.3.0', '0', ' 0.3 '].map(wantsV1Card)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(['1.0', '1', '1.1', '2.0'].map(wantsV1Card)).toEqual([true, true, true, true]);
  });

  it('v1.0 clients get exactly the v1.0 card', async () => {
    expect(JSON.parse(await agentCardJson(withV03, '1.0'))).toEqual(AgentCard.toJSON(withV03));
  });

  it('v0.3 clients get both shapes of the security scheme, and v1.0 reads the same card', async () => {
    const superset = JSON.parse(await agentCardJson(withV03, undefined)) as Record<string, unknown>;
    expect(superset).toMatchObject({
      url: 'http://a.example/a2a/secured/',
      preferredTransport: 'JSONRPC',
      supportsAuthenticatedExtendedCard: true,
      securitySchemes: {
        key: {
          apiKeySecurityScheme: { location: 'header', name: 'x-api-key' },
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
        },
      },
      security: [{ key: [] }],
      skills: [{ id: 's', description: '' }],
    });
    expect(AgentCard.fromJSON(superset)).toEqual(AgentCard.fromJSON(AgentCard.toJSON(withV03)));
  });

  it('a card with no v0.3 interface (compatibility off) is the v1.0 card for everyone', async () => {
    expect(await agentCardJson(base, undefined)).toBe(JSON.stringify(AgentCard.toJSON(base)));
  });
});
