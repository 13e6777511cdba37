/**
 * This server's entries in the store's agent registry: registered at start, renewed every
 * heartbeat (entries expire after three missed beats), retried with backoff while the store
 * does not answer, removed at shutdown; and discovery over every server's entries.
 */
import type { Logger } from 'pino';
import { agentUrls } from '../agents/agent-factory.js';
import type { HostedAgent } from '../engine/hosted-agent.js';
import type { AgentdMetrics } from '../observability/metrics.js';
import type { AgentRegistry, RegisteredAgent } from '../store/ports.js';

export class AgentRegistration {
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly registry: AgentRegistry,
    private readonly serverId: string,
    private readonly agents: readonly HostedAgent[],
    private readonly heartbeatMs: number,
    private readonly logger: Logger,
    private readonly metrics: AgentdMetrics | undefined,
    /** The base URL the cards advertise (known once the server listens). */
    private readonly baseUrl: () => string,
    /** This server's region (`AGENTD_REGION`), stamped on its entries. */
    private readonly region?: string | undefined,
  ) {}

  /**
   * Registers before the start completes, unless the store does not answer within 2 s: then
   * the server starts not ready and registers once the store is back. Renews every heartbeat.
   */
  async start(): Promise<void> {
    const first = this.register();
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      first.then(
        () => true,
        () => false,
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 2000))),
    ]);
    clearTimeout(timer);
    if (answered) this.keep(this.heartbeatMs);
    else {
      this.logger.warn('could not register the agents in the store (is it reachable?); retrying');
      this.keep(1000, 1);
    }
  }

  /** Registers this server's agents for three heartbeats (entries expire after 3 missed beats). */
  async register(): Promise<void> {
    await this.registry.register(
      this.serverId,
      this.agents.map((a) => ({
        name: a.name,
        cardUrl: agentUrls(this.baseUrl(), a.name).card,
        card: a.card,
        ...(this.region ? { region: this.region } : {}),
      })),
      3 * this.heartbeatMs,
    );
  }

  /** Stops renewing and removes the entries (they expire anyway if the store does not answer). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.heartbeat);
    await this.registry
      .deregister(this.serverId)
      .catch((error: unknown) =>
        this.logger.warn({ err: error }, 'could not deregister; entries will expire'),
      );
  }

  /** Stops renewing (shutdown has begun) without removing the entries yet. */
  pause(): void {
    this.stopped = true;
  }

  /**
   * Agents hosted by every server on this store (just this one on the memory store),
   * optionally only those with a skill id or tag equal to `capability`.
   */
  async discover(capability?: string): Promise<RegisteredAgent[]> {
    let all: RegisteredAgent[];
    try {
      all = await this.registry.list();
    } catch (error) {
      this.metrics?.discovery('unknown', 'error');
      throw error;
    }
    const found = capability
      ? all.filter((a) => a.card.skills.some((s) => s.id === capability || s.tags.includes(capability)))
      : all;
    // The label is the capability only when some agent has it: a user's string is unbounded.
    const label = !capability ? 'all' : found.length > 0 ? capability : 'unknown';
    this.metrics?.discovery(label, found.length > 0 ? 'found' : 'not_found');
    return found;
  }

  /**
   * Registers after `delayMs`, then every heartbeat. A failed registration (the store is
   * unreachable) is retried sooner, backing off from one second to the heartbeat.
   */
  private keep(delayMs: number, failures = 0): void {
    clearTimeout(this.heartbeat);
    this.heartbeat = setTimeout(() => {
      this.register().then(
        () => {
          if (failures > 0) this.logger.info('agents registered in the store');
          if (!this.stopped) this.keep(this.heartbeatMs);
        },
        (error: unknown) => {
          if (failures === 0)
            this.logger.warn({ err: error }, 'could not register the agents in the store; retrying');
          else this.logger.debug({ err: error }, 'agent registration failed again; retrying');
          if (!this.stopped) this.keep(Math.min(this.heartbeatMs, 1000 * 2 ** failures), failures + 1);
        },
      );
    }, delayMs);
    this.heartbeat.unref();
  }
}
