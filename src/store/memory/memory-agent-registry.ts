import type { AgentRegistry, RegisteredAgent } from '../ports.js';

/** One process: the registry holds this server's own entries, with their expiry. */
export class MemoryAgentRegistry implements AgentRegistry {
  private readonly servers = new Map<string, { agents: RegisteredAgent[]; expiresAt: number }>();

  async register(
    serverId: string,
    agents: ReadonlyArray<Omit<RegisteredAgent, 'serverId'>>,
    ttlMs: number,
  ): Promise<void> {
    this.servers.set(serverId, {
      agents: agents.map((a) => ({ ...a, serverId })),
      expiresAt: Date.now() + ttlMs,
    });
  }

  async deregister(serverId: string): Promise<void> {
    this.servers.delete(serverId);
  }

  async list(): Promise<RegisteredAgent[]> {
    const now = Date.now();
    const out: RegisteredAgent[] = [];
    for (const [id, entry] of this.servers) {
      if (entry.expiresAt <= now) this.servers.delete(id);
      else out.push(...entry.agents);
    }
    return out;
  }
}
