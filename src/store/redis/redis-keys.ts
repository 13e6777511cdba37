/**
 * Redis key layout. Every key of one task carries the hash tag `{t:<taskId>}`, so a task's
 * snapshot, event stream, sequence counter and push configs live in one Redis Cluster
 * slot and can be changed together by one Lua script. Index keys (ListTasks) are per
 * agent and tenant and are updated after the task's own keys.
 */
export class RedisKeys {
  constructor(private readonly prefix: string) {}

  /** Hash: version, agent, tenant, owner, lastSeq, updatedAt, state, contextId, task (JSON). */
  task(id: string): string {
    return `${this.prefix}{t:${id}}:task`;
  }

  /** Stream of events, ids `0-<seq>`; `1-0` marks the log closed. */
  events(id: string): string {
    return `${this.prefix}{t:${id}}:events`;
  }

  /** Counter for event sequence numbers. */
  seq(id: string): string {
    return `${this.prefix}{t:${id}}:seq`;
  }

  /** Hash: configId → push config JSON. */
  push(id: string): string {
    return `${this.prefix}{t:${id}}:push`;
  }

  /** String: the task (or direct reply) an accepted message produced (see MessageLedger). */
  message(key: string): string {
    return `${this.prefix}{m}:msg:${key}`;
  }

  /** Sorted set of the message keys by when they were claimed (bounds the ledger). */
  messageIndex(): string {
    return `${this.prefix}{m}:messages`;
  }

  /** Hash: step name → JSON result of the agent's `step()` calls. */
  steps(id: string): string {
    return `${this.prefix}{t:${id}}:steps`;
  }

  /**
   * Work-queue keys. They share the hash tag `{q}` (one Cluster slot), so the queue's
   * Lua scripts can move a task between them atomically.
   */
  queue(part: 'leases' | 'work'): string {
    return `${this.prefix}{q}:${part}`;
  }

  /** Prefix of the per-agent waiting lists (`<prefix><encoded agent>`). */
  waitingPrefix(): string {
    return `${this.prefix}{q}:waiting:`;
  }

  /** List of the task ids waiting for a worker of one agent, oldest first. */
  waiting(agent: string): string {
    return `${this.waitingPrefix()}${encodeURIComponent(agent)}`;
  }

  /** Pub/sub channel that wakes idle workers: tasks are waiting. */
  workChannel(): string {
    return `${this.prefix}work`;
  }

  /** Pub/sub channel for cancel requests (payload: task id). */
  cancelChannel(): string {
    return `${this.prefix}cancel`;
  }

  /**
   * Sorted set (all scores 0) of `<updatedAt padded>:<taskId>` for one listing filter. The
   * indexes of one agent and tenant share the hash tag `{idx:<agent>:<tenant>}`, so one
   * script moves a task between them.
   */
  index(agent: string, tenant: string, filter = ''): string {
    return `${this.prefix}{idx:${encodeURIComponent(agent)}:${encodeURIComponent(tenant)}}${filter}`;
  }

  /**
   * The same indexes restricted to one owner's tasks (ListTasks of a principal that is not an
   * admin). One owner's indexes share the hash tag `{own:<agent>:<tenant>:<owner>}`.
   */
  ownerIndex(agent: string, tenant: string, owner: string, filter = ''): string {
    return `${this.prefix}{own:${encodeURIComponent(agent)}:${encodeURIComponent(tenant)}:${encodeURIComponent(owner)}}${filter}`;
  }

  /**
   * Sorted set of one owner's tasks in flight (counted against `execution.maxTasksPerPrincipal`),
   * scored by when each was counted. One key, so one slot: its script is atomic in a Cluster.
   */
  ownerQuota(owner: string): string {
    return `${this.prefix}{quota:${encodeURIComponent(owner)}}:inflight`;
  }

  /** Sorted set of registered server ids by the expiry of their registration (hash tag `{registry}`: one slot). */
  registry(): string {
    return `${this.prefix}{registry}`;
  }

  /** JSON list of one server's agents, with a TTL its heartbeat refreshes. */
  registryServer(serverId: string): string {
    return `${this.prefix}{registry}:${serverId}`;
  }

  /** Sorted set of finished task ids by finish time, for retention. */
  finished(): string {
    return `${this.prefix}finished`;
  }
}

/** Index member: zero-padded updatedAt then id, so lexical order is (updatedAt, id). */
export function indexMember(updatedAt: number, id: string): string {
  return `${String(updatedAt).padStart(15, '0')}:${id}`;
}
