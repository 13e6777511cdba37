/**
 * Chooses which agent to call for a capability: among the agents every server on the store
 * registered with that skill id or tag, those whose circuit breaker is not open, by
 * round-robin (per capability) or by fewest calls in flight from this process.
 */
import type { RegisteredAgent } from '../store/ports.js';
import { err } from '../errors.js';
import type { BreakerState } from './agent-caller.js';

export type PickStrategy = 'round-robin' | 'least-loaded';

/** What the picker needs of the caller: each agent's breaker and load. */
export interface PeerLoad {
  breakerState(agentUrl: string): BreakerState;
  inFlight(agentUrl: string): number;
}

export class PeerPicker {
  /** The next round-robin position per capability. */
  private readonly turns = new Map<string, number>();

  constructor(
    private readonly load: PeerLoad,
    /** Registered agents with the capability (all replicas'): the server's discovery. */
    private readonly discover: (capability: string) => Promise<readonly RegisteredAgent[]>,
    /** This server's region: agents there are preferred, others used when none is usable. */
    private readonly region?: string | undefined,
  ) {}

  /**
   * An agent with `capability` to call (use its `cardUrl`), skipping those whose breaker is
   * open and those in `exclude` (card URLs, e.g. one that just failed). Throws
   * NO_AGENT_FOR_CAPABILITY naming the capability when none is left, saying how many were
   * skipped for an open breaker.
   */
  async pick(
    capability: string,
    strategy: PickStrategy = 'round-robin',
    exclude: readonly string[] = [],
  ): Promise<RegisteredAgent> {
    const found = await this.discover(capability);
    const candidates = found.filter((a) => !exclude.includes(a.cardUrl));
    // Sorted so every call sees the same order (the registry's listing order is not stable).
    const open = candidates
      .filter((a) => this.load.breakerState(a.cardUrl) !== 'open')
      .sort((a, b) => a.cardUrl.localeCompare(b.cardUrl));
    // Same region first; another region's agents only when none here is usable.
    const nearby = this.region ? open.filter((a) => a.region === this.region) : [];
    const usable = nearby.length > 0 ? nearby : open;
    const chosen = strategy === 'least-loaded' ? this.leastLoaded(usable) : this.nextTurn(capability, usable);
    if (chosen) return chosen;
    const broken = candidates.length - usable.length;
    const why =
      found.length === 0
        ? 'no registered agent has it as a skill id or tag'
        : broken > 0
          ? `${broken} agent${broken === 1 ? ' has' : 's have'} it but ${broken === 1 ? 'its' : 'their'} circuit breaker is open` +
            (found.length > candidates.length ? `, the others were excluded` : '')
          : 'every agent that has it was excluded';
    throw err('NO_AGENT_FOR_CAPABILITY', `No agent to call for capability "${capability}": ${why}`, {
      capability,
    });
  }

  private nextTurn(capability: string, usable: readonly RegisteredAgent[]): RegisteredAgent | undefined {
    if (usable.length === 0) return undefined;
    const turn = this.turns.get(capability) ?? 0;
    this.turns.set(capability, (turn + 1) % Number.MAX_SAFE_INTEGER);
    return usable[turn % usable.length];
  }

  private leastLoaded(usable: readonly RegisteredAgent[]): RegisteredAgent | undefined {
    let best: RegisteredAgent | undefined;
    let bestLoad = Infinity;
    for (const agent of usable) {
      const load = this.load.inFlight(agent.cardUrl);
      if (load < bestLoad) [best, bestLoad] = [agent, load];
    }
    return best;
  }
}
