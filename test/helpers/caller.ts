/** An AgentCaller with the configured defaults, overridden where a test needs it. */
import { outboundSchema } from '../../src/config/security-schema.js';
import { AgentCaller, type AgentCallerOptions } from '../../src/engine/agent-caller.js';

export function testCaller(
  outbound: Record<string, unknown> = {},
  options: Omit<AgentCallerOptions, 'settings'> = {},
): AgentCaller {
  return new AgentCaller({ settings: outboundSchema.parse(outbound), ...options });
}
