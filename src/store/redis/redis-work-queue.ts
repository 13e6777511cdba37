import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AgentdError } from '../../errors.js';
import type { WorkItem, WorkQueue } from '../ports.js';
import type { ReplicaWait } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';

/** Redis server time in ms: every replica measures leases on the same clock. */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * A task's entry in the hash `{q}:work`: "<owner>\n<attempt>\n<agent>\n<payload>", owner
 * empty while it waits. One field per task keeps a lease to one write and one delete.
 */
const WORK = `
local function parse(v)
  local owner, attempt, agent, payload = string.match(v, '^([^\\n]*)\\n(%d+)\\n([^\\n]*)\\n(.*)$')
  return { owner = owner, attempt = tonumber(attempt), agent = agent, payload = payload }
end
local function owner_of(v) return string.match(v, '^[^\\n]*') end
local function put(work, id, w)
  redis.call('HSET', work, id, w.owner .. '\\n' .. w.attempt .. '\\n' .. w.agent .. '\\n' .. w.payload)
end`;

/**
 * Leases a task to a replica. Re-sent after a dropped connection, it finds its own lease
 * and does not count a second attempt. KEYS: leases, work. ARGV: id, replica, lease ms,
 * payload, agent (encoded).
 */
const LEASE = `${NOW}${WORK}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then
  local w = parse(cur)
  if w.owner == ARGV[2] then return w.attempt end
  w.owner = ARGV[2]
  w.attempt = w.attempt + 1
  put(KEYS[2], ARGV[1], w)
  return w.attempt
end
put(KEYS[2], ARGV[1], { owner = ARGV[2], attempt = 1, agent = ARGV[5], payload = ARGV[4] })
return 1`;

/**
 * Queues a task unless its agent's queue holds `max` already. Returns {accepted, depth}.
 * KEYS: waiting list, work. ARGV: id, payload, max depth, channel, agent.
 */
const PUSH = `${WORK}
local depth = redis.call('LLEN', KEYS[1])
if depth >= tonumber(ARGV[3]) then return {0, depth} end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local attempt = 0
if cur then attempt = parse(cur).attempt end
put(KEYS[2], ARGV[1], { owner = '', attempt = attempt, agent = ARGV[5], payload = ARGV[2] })
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, depth + 1}`;

/**
 * Takes up to ARGV[3] waiting tasks from the lists KEYS[3..], in order, leasing each to
 * ARGV[1]. Entries whose work is gone (removed) or that are already leased (a push re-sent
 * after a dropped connection) are skipped. Returns {depth left, id, attempt, payload, ...}.
 * KEYS: leases, work, waiting lists...
 */
const TAKE = `${NOW}${WORK}
local out = {0}
local max = tonumber(ARGV[3])
local taken = 0
for k = 3, #KEYS do
  while taken < max do
    local id = redis.call('LPOP', KEYS[k])
    if not id then break end
    local cur = redis.call('HGET', KEYS[2], id)
    if cur and not redis.call('ZSCORE', KEYS[1], id) then
      local w = parse(cur)
      w.owner = ARGV[1]
      w.attempt = w.attempt + 1
      put(KEYS[2], id, w)
      redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
      out[#out + 1] = id
      out[#out + 1] = w.attempt
      out[#out + 1] = w.payload
      taken = taken + 1
    end
  end
  out[1] = out[1] + redis.call('LLEN', KEYS[k])
end
return out`;

/** Ends a lease this replica holds. KEYS: leases, work. ARGV: id, replica. */
const ACK = `${WORK}
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur or owner_of(cur) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`;

/**
 * Puts a task this replica holds back at the head of its agent's queue. A task that never
 * started here (ARGV[5] = '0') gives back the attempt its take counted. KEYS: leases,
 * work. ARGV: id, replica, waiting-list prefix, channel, started ('1' or '0').
 */
const REQUEUE = `${WORK}
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur or owner_of(cur) ~= ARGV[2] then return 0 end
local w = parse(cur)
w.owner = ''
if ARGV[5] == '0' and w.attempt > 0 then w.attempt = w.attempt - 1 end
put(KEYS[2], ARGV[1], w)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('LPUSH', ARGV[3] .. w.agent, ARGV[1])
redis.call('PUBLISH', ARGV[4], w.agent)
return 1`;

/** Removes a waiting task. KEYS: waiting list, work. ARGV: id. */
const REMOVE = `
local n = redis.call('LREM', KEYS[1], 0, ARGV[1])
if n > 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return n`;

/**
 * Puts tasks whose lease lapsed (their replica died) back at the head of their agent's
 * queue and wakes the workers. The lists are named from the hash-tagged prefix, so they
 * share the slot of KEYS. KEYS: leases, work. ARGV: waiting-list prefix, channel, limit.
 */
const RECOVER = `${NOW}${WORK}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local cur = redis.call('HGET', KEYS[2], id)
  if cur then
    local w = parse(cur)
    w.owner = ''
    put(KEYS[2], id, w)
    redis.call('LPUSH', ARGV[1] .. w.agent, id)
    redis.call('PUBLISH', ARGV[2], w.agent)
  end
end
return ids`;

/** Extends the leases this replica still holds; returns the ids it lost. KEYS: leases, work. ARGV: replica, lease ms, ids... */
const RENEW = `${NOW}${WORK}
local lost = {}
for i = 3, #ARGV do
  local cur = redis.call('HGET', KEYS[2], ARGV[i])
  if cur and owner_of(cur) == ARGV[1] then
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
  /** Waits for replicas after a push (store.redis.waitReplicas): a queued task survives a failover. */
  readonly replicated?: ReplicaWait;
}

type Scripts = Record<
  'agentdLease' | 'agentdPush' | 'agentdTake' | 'agentdAck' | 'agentdRequeue' | 'agentdRemove',
  (...args: string[]) => Promise<unknown>
> &
  Record<'agentdRecover' | 'agentdRenew', (...args: string[]) => Promise<string[]>>;

/**
 * {@link WorkQueue} on Redis. A task is either in its agent's waiting list or leased:
 * `{q}:leases` is sorted by lease deadline (on Redis's clock), and `{q}:work` holds per
 * task which replica runs it, its attempt count, its agent and what it needs to run
 * anywhere. Every replica renews its
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
    redis.defineCommand('agentdLease', { numberOfKeys: 2, lua: LEASE });
    redis.defineCommand('agentdPush', { numberOfKeys: 2, lua: PUSH });
    redis.defineCommand('agentdAck', { numberOfKeys: 2, lua: ACK });
    redis.defineCommand('agentdRequeue', { numberOfKeys: 2, lua: REQUEUE });
    redis.defineCommand('agentdRemove', { numberOfKeys: 2, lua: REMOVE });
    redis.defineCommand('agentdRecover', { numberOfKeys: 2, lua: RECOVER });
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
      q.queue('work'),
      taskId,
      payload,
      String(maxDepth),
      q.workChannel(),
      encodeURIComponent(agent),
    )) as [number, number];
    this.depth = depth;
    if (accepted === 1) await this.options.replicated?.(q.queue('work'));
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
    const keys = [q.queue('leases'), q.queue('work'), ...lists];
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

  async requeue(taskId: string, started: boolean): Promise<void> {
    this.held.delete(taskId);
    const q = this.keys;
    await this.scripts.agentdRequeue(
      q.queue('leases'),
      q.queue('work'),
      taskId,
      this.replicaId,
      q.waitingPrefix(),
      q.workChannel(),
      started ? '1' : '0',
    );
  }

  async remove(taskId: string, agent: string): Promise<boolean> {
    const q = this.keys;
    const removed = Number(await this.scripts.agentdRemove(q.waiting(agent), q.queue('work'), taskId));
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
      q.queue('work'),
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

  /** The keys LEASE and ACK take. */
  private leaseKeys(): string[] {
    return [this.keys.queue('leases'), this.keys.queue('work')];
  }

  private get scripts(): Scripts {
    return this.redis as unknown as Scripts;
  }

  private async renew(): Promise<void> {
    if (this.held.size === 0) return;
    const ids = [...this.held];
    const lost = await this.scripts.agentdRenew(
      this.keys.queue('leases'),
      this.keys.queue('work'),
      this.replicaId,
      String(this.options.leaseMs),
      ...ids,
    );
    const gone = lost.filter((id) => this.held.delete(id));
    if (gone.length > 0) for (const h of this.lostHandlers) h(gone);
  }
}
