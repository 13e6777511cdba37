/**
 * The series of agentd's calls to other agents that are not A2A message counts: retries
 * and circuit-breaker states per peer agent. The `peer` label is the remote card's agent
 * name, bounded: the first {@link MAX_PEER_LABELS} names seen, then `other`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Distinct `peer` label values at most; later peers are counted as `other`. */
const MAX_PEER_LABELS = 100;

/** `agentd_peer_breaker_state` values. */
export const BREAKER_VALUES = { closed: 0, open: 1, 'half-open': 0.5 } as const;

/** The breaker of each peer agent called, by agent name (read at scrape time). */
export type PeerBreakers = () => ReadonlyArray<{ peer: string; state: keyof typeof BREAKER_VALUES }>;

export class PeerMetrics {
  private readonly labels = new Set<string>();
  private readonly retries: Counter;

  constructor(registry: Registry, breakers: PeerBreakers | undefined) {
    const registers = [registry];
    this.retries = new Counter({
      name: 'agentd_peer_retries_total',
      help: 'Outbound A2A calls to a peer agent attempted again after a passing failure (unreachable, overloaded, timed out)',
      labelNames: ['peer'],
      registers,
    });
    if (!breakers) return;
    const label = (peer: string): string => this.label(peer);
    new Gauge({
      name: 'agentd_peer_breaker_state',
      help: 'Circuit breaker of each peer agent called: 0 closed, 1 open (calls fail fast), 0.5 half-open (a trial call goes through)',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        // `other` shows the worst state of the peers folded into it.
        const values = new Map<string, number>();
        for (const { peer, state } of breakers()) {
          const name = label(peer);
          values.set(name, Math.max(values.get(name) ?? 0, BREAKER_VALUES[state]));
        }
        for (const [peer, value] of values) this.set({ peer }, value);
      },
    });
  }

  retried(peer: string): void {
    this.retries.inc({ peer: this.label(peer) });
  }

  /** `peer` while fewer than {@link MAX_PEER_LABELS} peers were seen, else `other` for new ones. */
  label(peer: string): string {
    if (this.labels.has(peer)) return peer;
    if (this.labels.size >= MAX_PEER_LABELS) return 'other';
    this.labels.add(peer);
    return peer;
  }
}
