/**
 * Discovery for workflow steps, durable calls and routers: agents registered in the store by
 * every server sharing it (see AgentRegistration), by name, or by capability (a skill id or
 * tag) through the {@link PeerPicker}: round-robin or least loaded, skipping agents whose
 * circuit breaker is open.
 */
import type { PeerPicker, PickStrategy } from '../engine/peer-picker.js';
import type { AgentRegistry, RegisteredAgent } from '../store/ports.js';
import type { PeerResolver } from './children.js';

export class RegistryPeers implements PeerResolver {
  constructor(
    private readonly registry: AgentRegistry,
    private readonly picker: PeerPicker,
    private readonly strategy: PickStrategy = 'round-robin',
    /** This server's region: an agent of this name there is preferred. */
    private readonly region?: string | undefined,
  ) {}

  list(): Promise<RegisteredAgent[]> {
    return this.registry.list();
  }

  async byName(name: string): Promise<string | undefined> {
    const named = (await this.registry.list()).filter((a) => a.name === name);
    return (named.find((a) => this.region && a.region === this.region) ?? named[0])?.cardUrl;
  }

  async byCapability(capability: string): Promise<{ name: string; cardUrl: string }> {
    const picked = await this.picker.pick(capability, this.strategy);
    return { name: picked.name, cardUrl: picked.cardUrl };
  }
}
