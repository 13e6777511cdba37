/**
 * Discovery for workflow steps and durable calls: agents registered in the store by every
 * server sharing it (see AgentRegistration), by name or by capability (a skill id or tag),
 * taking turns among the agents that have it. `skip` leaves out agents a caller knows are
 * unreachable (an open circuit breaker).
 */
import { err } from '../errors.js';
import type { AgentRegistry, RegisteredAgent } from '../store/ports.js';
import type { PeerResolver } from './children.js';

export interface PeerChoice {
  /** Agents that may not be picked now (their breaker is open); told why in the error. */
  readonly skip?: ((agent: RegisteredAgent) => boolean) | undefined;
  /** Among the candidates, the one to use; round-robin per capability by default. */
  readonly choose?:
    ((capability: string, candidates: readonly RegisteredAgent[]) => RegisteredAgent) | undefined;
}

export class RegistryPeers implements PeerResolver {
  private readonly turns = new Map<string, number>();

  constructor(
    private readonly registry: AgentRegistry,
    private readonly choice: PeerChoice = {},
  ) {}

  list(): Promise<RegisteredAgent[]> {
    return this.registry.list();
  }

  async byName(name: string): Promise<string | undefined> {
    const all = await this.registry.list();
    return all.find((a) => a.name === name)?.cardUrl;
  }

  async byCapability(capability: string): Promise<{ name: string; cardUrl: string }> {
    const all = await this.registry.list();
    const having = all.filter((a) =>
      a.card.skills.some((s) => s.id === capability || s.tags.includes(capability)),
    );
    const open = having.filter((a) => !this.choice.skip?.(a));
    if (open.length === 0) {
      const why =
        having.length > 0
          ? `every agent with the capability "${capability}" is unavailable (circuit breaker open: ${[...new Set(having.map((a) => a.name))].join(', ')})`
          : `No registered agent has the capability "${capability}" (a skill id or tag)`;
      throw err('NO_AGENT_FOR_CAPABILITY', why, { capability });
    }
    // Stable order, so taking turns is fair across calls whatever order the store lists in.
    open.sort((a, b) => a.cardUrl.localeCompare(b.cardUrl));
    const picked = this.choice.choose
      ? this.choice.choose(capability, open)
      : this.roundRobin(capability, open);
    return { name: picked.name, cardUrl: picked.cardUrl };
  }

  private roundRobin(capability: string, candidates: readonly RegisteredAgent[]): RegisteredAgent {
    const turn = this.turns.get(capability) ?? 0;
    if (this.turns.size > 10_000) this.turns.clear(); // bounded: capabilities come from configs
    this.turns.set(capability, turn + 1);
    return candidates[turn % candidates.length] as RegisteredAgent;
  }
}
