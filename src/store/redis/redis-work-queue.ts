import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AgentdError } from '../../errors.js';
import type { WorkItem, WorkQueue } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';

/** Redis server time in ms: every replica measures leases on the same clock. */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * Leases a task to a replica. Re-sent after a dropped connection, it finds its own lease
 * and does not count a second attempt. KEYS: leases, owners, attempts, payloads, agents.
 * ARGV: id, replica, lease ms, payload, agent (encoded).
 */
const LEASE = `${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  return tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '1')
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[5])
return redis.call('HINCRBY', KEYS[3], ARGV[1], 1)`;

/**
 * Queues a task unless its agent's queue holds `max` already. Returns {accepted, depth}.
 * KEYS: waiting list, payloads, agents. ARGV: id, payload, max depth, channel, agent.
 */
const PUSH = `
local depth = redis.call('LLEN', KEYS[1])
if depth >= tonumber(ARGV[3]) then return {0, depth} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, depth + 1}`;

/**
 * Takes up to ARGV[3] waiting tasks from the lists KEYS[5..], in order, leasing each to
 * ARGV[1]. Entries whose payload is gone (removed) or that are already leased (a push
 * re-sent after a dropped connection) are skipped. Returns {depth left, id, attempt,
 * payload, ...}. KEYS: leases, owners, attempts, payloads, waiting lists...
 */
const TAKE = `${NOW}
local out = {0}
local max = tonumber(ARGV[3])
local taken = 0
for k = 5, #KEYS do
  while taken < max do
    local id = redis.call('LPOP', KEYS[k])
    if not id then break end
    local payload = redis.call('HGET', KEYS[4], id)
    if payload and not redis.call('ZSCORE', KEYS[1], id) then
      redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
      redis.call('HSET', KEYS[2], id, ARGV[1])
      local attempt = redis.call('HINCRBY', KEYS[3], id, 1)
      out[#out + 1] = id
      out[#out + 1] = attempt
      out[#out + 1] = payload
      taken = taken + 1
    end
  end
  out[1] = out[1] + redis.call('LLEN', KEYS[k])
end
return out`;

/** Ends a lease this replica holds. KEYS: leases, owners, attempts, payloads, agents. ARGV: id, replica. */
const ACK = `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
for i = 2, 5 do redis.call('HDEL', KEYS[i], ARGV[1]) end
return 1`;

/**
 * Puts a task this replica holds back at the head of its agent's queue. KEYS: leases,
 * owners, agents. ARGV: id, replica, waiting-list prefix, channel.
 */
const REQUEUE = `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local agent = redis.call('HGET', KEYS[3], ARGV[1])
if not agent then return 0 end
redis.call('LPUSH', ARGV[3] .. agent, ARGV[1])
redis.call('PUBLISH', ARGV[4], agent)
return 1`;

/** Removes a waiting task. KEYS: waiting list, payloads, attempts, agents. ARGV: id. */
const REMOVE = `
local n = redis.call('LREM', KEYS[1], 0, ARGV[1])
if n > 0 then
  for i = 2, 4 do redis.call('HDEL', KEYS[i], ARGV[1]) end
end
return n`;

/**
 * Puts tasks whose lease lapsed (their replica died) back at the head of their agent's
 * queue and wakes the workers. The lists are named from the hash-tagged prefix, so they
 * share the slot of KEYS. KEYS: leases, owners, agents. ARGV: waiting-list prefix,
 * channel, limit.
 */
const RECOVER = `${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  local agent = redis.call('HGET', KEYS[3], id)
  if agent then
    redis.call('LPUSH', ARGV[1] .. agent, id)
    redis.call('PUBLISH', ARGV[2], agent)
  end
end
return ids`;

/** Extends the leases this replica still holds; returns the ids it lost. KEYS: leases, owners. ARGV: replica, lease ms, ids... */
const RENEW = `${NOW}
local lost = {}
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost`;

export interface RedisWorkQueueOptions {
  /** A lease lapses this long after its replica last renewed it (the replica died). */
  readonly leaseMs: number;
  /** How often lapsed leases are looked for; takeover happens within leaseMs + this. */
  readonly recoverEveryMs: number;
}

type Scripts = Record<
  'agentdLease' | 'agentdPush' | 'agentdTake' | 'agentdAck' | 'agentdRequeue' | 'agentdRemove',
  (...args: string[]) => Promise<unknown>
> &
  Record<'agentdRecover' | 'agentdRenew', (...args: string[]) => Promise<string[]>>;

/**
 * {@link WorkQueue} on Redis. A task is either in its agent's waiting list or leased:
 * `{q}:leases` (sorted by deadline, on Redis's clock) and `{q}:owners` say which replica
 * runs it; `{q}:payloads` holds what it needs to run anywhere. Every replica renews its
 * leases every third of the lease time and, every `recoverEveryMs`, moves lapsed leases
 * back to the head of their queue; idle workers are woken over pub/sub. All queue keys
 * share the hash tag `{q}`; each operation is one Lua script.
 */
export class RedisWorkQueue implements WorkQueue {
  readonly durable = true;
  readonly replicaId = randomUUID();
  private readonly held = new Set<string>();
  private readonly workHandlers: Array<() => void> = [];
  private readonly cancelHandlers: Array<(taskId: string) => void> = [];
  private readonly lostHandlers: Array<(taskIds: string[]) => void> = [];
  private readonly subscriber: Redis;
  private readonly timers: NodeJS.Timeout[];
  private depth = 0;
  /** The SUBSCRIBE of the notification channels (undefined: not sent yet, or it failed). */
  private subscribed: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: RedisWorkQueueOptions,
  ) {
    redis.defineCommand('agentdLease', { numberOfKeys: 5, lua: LEASE });
    redis.defineCommand('agentdPush', { numberOfKeys: 3, lua: PUSH });
    redis.defineCommand('agentdAck', { numberOfKeys: 5, lua: ACK });
    redis.defineCommand('agentdRequeue', { numberOfKeys: 3, lua: REQUEUE });
    redis.defineCommand('agentdRemove', { numberOfKeys: 4, lua: REMOVE });
    redis.defineCommand('agentdRecover', { numberOfKeys: 3, lua: RECOVER });
    redis.defineCommand('agentdRenew', { numberOfKeys: 2, lua: RENEW });
    // TAKE has a variable number of lists: its key count is passed per call.
    redis.defineCommand('agentdTake', { lua: TAKE });
    this.subscriber = redis.duplicate();
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === keys.workChannel()) for (const h of this.workHandlers) h();
      else for (const h of this.cancelHandlers) h(message);
    });
    void this.ready().catch(() => {});
    this.timers = [
      setInterval(() => void this.renew().catch(() => {}), Math.max(50, options.leaseMs / 3)),
      setInterval(() => void this.recover().catch(() => {}), Math.max(50, options.recoverEveryMs)),
    ];
    for (const t of this.timers) t.unref();
  }

  get waiting(): number {
    return this.depth;
  }

  /**
   * Resolves once this replica is subscribed to work and cancel notifications (a message
   * published before that is not delivered). A subscribe that failed (Redis unreachable at
   * start) is sent again: ioredis only re-subscribes channels it got a reply for.
   */
  ready(): Promise<void> {
    this.subscribed ??= this.subscriber.subscribe(this.keys.cancelChannel(), this.keys.workChannel()).then(
      () => undefined,
      (error: unknown) => {
        this.subscribed = undefined;
        throw error;
      },
    );
    return this.subscribed;
  }

  async lease(taskId: string, agent: string, payload: string): Promise<number> {
    this.held.add(taskId);
    return Number(
      await this.scripts.agentdLease(
        ...this.leaseKeys(),
        taskId,
        this.replicaId,
        String(this.options.leaseMs),
        payload,
        encodeURIComponent(agent),
      ),
    );
  }

  async push(taskId: string, agent: string, payload: string, maxDepth: number): Promise<void> {
    const q = this.keys;
    const [accepted, depth] = (await this.scripts.agentdPush(
      q.waiting(agent),
      q.queue('payloads'),
      q.queue('agents'),
      taskId,
      payload,
      String(maxDepth),
      q.workChannel(),
      encodeURIComponent(agent),
    )) as [number, number];
    this.depth = depth;
    if (accepted !== 1) {
      throw new AgentdError(
        'QUEUE_FULL',
        `All workers for agent "${agent}" are busy and ${depth} tasks are queued; retry later`,
        { agent },
      );
    }
  }

  async take(agents: readonly string[], max: number): Promise<WorkItem[]> {
    if (agents.length === 0 || max <= 0) return [];
    const q = this.keys;
    // Start at a different agent each time, so a busy agent cannot starve the others.
    const start = this.rotation++ % agents.length;
    const lists = [...agents.slice(start), ...agents.slice(0, start)].map((a) => q.waiting(a));
    const keys = [q.queue('leases'), q.queue('owners'), q.queue('attempts'), q.queue('payloads'), ...lists];
    const reply = (await this.scripts.agentdTake(
      String(keys.length),
      ...keys,
      this.replicaId,
      String(this.options.leaseMs),
      String(max),
    )) as Array<string | number>;
    this.depth = Number(reply[0]);
    const items: WorkItem[] = [];
    for (let i = 1; i + 2 < reply.length; i += 3) {
      const taskId = String(reply[i]);
      this.held.add(taskId);
      items.push({ taskId, attempt: Number(reply[i + 1]), payload: String(reply[i + 2]) });
    }
    return items;
  }

  async ack(taskId: string): Promise<void> {
    this.held.delete(taskId);
    await this.scripts.agentdAck(...this.leaseKeys(), taskId, this.replicaId);
  }

  async requeue(taskId: string): Promise<void> {
    this.held.delete(taskId);
    const q = this.keys;
    await this.scripts.agentdRequeue(
      q.queue('leases'),
      q.queue('owners'),
      q.queue('agents'),
      taskId,
      this.replicaId,
      q.waitingPrefix(),
      q.workChannel(),
    );
  }

  async remove(taskId: string, agent: string): Promise<boolean> {
    const q = this.keys;
    const removed = Number(
      await this.scripts.agentdRemove(
        q.waiting(agent),
        q.queue('payloads'),
        q.queue('attempts'),
        q.queue('agents'),
        taskId,
      ),
    );
    return removed > 0;
  }

  async isLeased(taskId: string): Promise<boolean> {
    return (await this.redis.zscore(this.keys.queue('leases'), taskId)) !== null;
  }

  onWork(handler: () => void): void {
    this.workHandlers.push(handler);
  }

  onLost(handler: (taskIds: string[]) => void): void {
    this.lostHandlers.push(handler);
  }

  async requestCancel(taskId: string): Promise<void> {
    await this.redis.publish(this.keys.cancelChannel(), taskId);
  }

  onCancelRequest(handler: (taskId: string) => void): void {
    this.cancelHandlers.push(handler);
  }

  /** Moves lapsed leases (dead replicas) back to their queues; returns the task ids moved. */
  async recover(): Promise<string[]> {
    const q = this.keys;
    return this.scripts.agentdRecover(
      q.queue('leases'),
      q.queue('owners'),
      q.queue('agents'),
      q.waitingPrefix(),
      q.workChannel(),
      '100',
    );
  }

  /** Stops renewing leases and listening (held leases lapse unless acked or requeued first). */
  close(): void {
    for (const t of this.timers) clearInterval(t);
    this.subscriber.disconnect();
  }

  private rotation = 0;

  /** The keys that describe leases, in the order LEASE and ACK take them. */
  private leaseKeys(): string[] {
    const q = this.keys;
    return [
      q.queue('leases'),
      q.queue('owners'),
      q.queue('attempts'),
      q.queue('payloads'),
      q.queue('agents'),
    ];
  }

  private get scripts(): Scripts {
    return this.redis as unknown as Scripts;
  }

  private async renew(): Promise<void> {
    if (this.held.size === 0) return;
    const ids = [...this.held];
    const lost = await this.scripts.agentdRenew(
      this.keys.queue('leases'),
      this.keys.queue('owners'),
      this.replicaId,
      String(this.options.leaseMs),
      ...ids,
    );
    const gone = lost.filter((id) => this.held.delete(id));
    if (gone.length > 0) for (const h of this.lostHandlers) h(gone);
  }
}
