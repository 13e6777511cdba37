import { A2A_PROTOCOL_VERSION, A2A_VERSION_HEADER } from '@a2a-js/sdk';

/**
 * Headers of every outbound agent-card fetch (CLI and `callAgent`). The `A2A-Version`
 * (A2A §3.6.1) asks for the v1.0 card: without it, servers built on the SDK answer with
 * their v0.3-compatible card, which lacks v1.0 fields such as
 * `capabilities.extendedAgentCard` and `capabilities.extensions`.
 */
export const CARD_FETCH_HEADERS: Readonly<Record<string, string>> = {
  accept: 'application/json',
  [A2A_VERSION_HEADER]: A2A_PROTOCOL_VERSION,
};
