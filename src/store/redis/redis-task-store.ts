import { Task } from '@a2a-js/sdk';
import type { Redis } from 'ioredis';
import { AgentdError } from '../../errors.js';
import { isTerminal } from '../../engine/task-state.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { RetentionPolicy, StoredTask, TaskPage, TaskQuery, TaskStore } from '../ports.js';
import { indexMember, type RedisKeys } from './redis-keys.js';

/** Creates the task hash unless it exists. KEYS: task. ARGV: the record's fields. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  -- A create re-sent after a dropped connection finds its own write: that is success.
  local cur = redis.call('HMGET', KEYS[1], 'v', 'task')
  if cur[1] == '1' and cur[2] == ARGV[7] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'v', 1, 'agent', ARGV[1], 'tenant', ARGV[2], 'lastSeq', ARGV[3],
  'updatedAt', ARGV[4], 'state', ARGV[5], 'ctx', ARGV[6], 'task', ARGV[7])
return 1`;

/**
 * Replaces the task hash if its version is ARGV[1]; when ARGV[9] > 0 (terminal), every key
 * of the task expires after that many ms. Returns {newVersion, oldUpdatedAt, oldState,
 * oldCtx}, or {0, foundVersion} on a version mismatch. A save re-sent after a dropped
 * connection, finding exactly its own write one version up, succeeds (the old values it
 * returns are then the current ones). KEYS: task, events, seq, push, steps.
 */
const SAVE = `
local cur = redis.call('HMGET', KEYS[1], 'v', 'updatedAt', 'state', 'ctx', 'task', 'lastSeq')
if cur[1] and tonumber(cur[1]) == tonumber(ARGV[1]) + 1 and cur[5] == ARGV[8]
  and cur[2] == ARGV[5] and cur[6] == ARGV[4] then
  -- A save re-sent after a dropped connection finds its own write: that is success.
  return {tonumber(cur[1]), cur[2], cur[3], cur[4]}
end
if not cur[1] or cur[1] ~= ARGV[1] then return {0, cur[1] or ''} end
local v = tonumber(ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'v', v, 'agent', ARGV[2], 'tenant', ARGV[3], 'lastSeq', ARGV[4],
  'updatedAt', ARGV[5], 'state', ARGV[6], 'ctx', ARGV[7], 'task', ARGV[8])
local ttl = tonumber(ARGV[9])
if ttl > 0 then
  for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ttl) end
end
return {v, cur[2], cur[3], cur[4]}`;

/** Keys outlive the retention TTL by this much; the sweeper removes them (and their index entries) first. */
const EXPIRY_GRACE_MS = 60_000;

/**
 * {@link TaskStore} on Redis: a hash per task (optimistic versioning in a Lua script),
 * listings from per-agent/tenant sorted-set indexes (all tasks, per context, per state)
 * whose members sort lexically by (updatedAt, id) — no scans. Finished tasks enter a
 * finish-time index so retention can evict by age and by count.
 */
export class RedisTaskStore implements TaskStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly retention: RetentionPolicy,
  ) {
    redis.defineCommand('agentdCreateTask', { numberOfKeys: 1, lua: CREATE });
    redis.defineCommand('agentdSaveTask', { numberOfKeys: 5, lua: SAVE });
  }

  async create(record: Omit<StoredTask, 'version'>): Promise<StoredTask> {
    const id = record.task.id;
    const created = (await this.call(
      'agentdCreateTask',
      [this.keys.task(id)],
      this.fields(record),
    )) as number;
    if (created !== 1) throw new AgentdError('TASK_CONFLICT', `Task ${id} already exists`, { taskId: id });
    await this.index(record, undefined);
    return { ...record, version: 1 };
  }

  async get(taskId: string): Promise<StoredTask | undefined> {
    return decode(await this.redis.hgetall(this.keys.task(taskId)));
  }

  async save(record: Omit<StoredTask, 'version'>, expectedVersion: number): Promise<StoredTask> {
    const id = record.task.id;
    const terminal = isTerminal(record.task.status?.state);
    const ttl = terminal ? this.retention.ttlMs + EXPIRY_GRACE_MS : 0;
    const result = (await this.call(
      'agentdSaveTask',
      [this.keys.task(id), this.keys.events(id), this.keys.seq(id), this.keys.push(id), this.keys.steps(id)],
      [String(expectedVersion), ...this.fields(record), String(Math.ceil(ttl))],
    )) as [number, string?, string?, string?];
    const [version, oldUpdatedAt, oldState, oldCtx] = result;
    if (version === 0) {
      const found = result[1] || 'none'; // on a mismatch the script returns the version it found
      throw new AgentdError(
        'TASK_CONFLICT',
        `Task ${id} changed concurrently (expected version ${expectedVersion}, found ${found})`,
        { taskId: id },
      );
    }
    await this.index(record, { updatedAt: Number(oldUpdatedAt), state: oldState ?? '', ctx: oldCtx ?? '' });
    if (terminal && !isTerminal(Number(oldState))) await this.finished(id);
    return { ...record, version };
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    const { agent, tenant } = query;
    const stateFilter = query.state === undefined ? undefined : String(query.state);
    const key = query.contextId
      ? this.keys.index(agent, tenant, `:ctx:${query.contextId}`)
      : stateFilter !== undefined
        ? this.keys.index(agent, tenant, `:state:${stateFilter}`)
        : this.keys.index(agent, tenant);
    // With a context and a state, the context index is read and the state checked per task.
    const postFilterState = query.contextId ? stateFilter : undefined;
    const min = query.updatedAfter === undefined ? '-' : `[${String(query.updatedAfter).padStart(15, '0')}`;
    let max = '+';
    if (query.pageToken) {
      const cursor = decodeCursor(query.pageToken);
      max = `(${indexMember(cursor.updatedAt, cursor.id)}`;
    }
    const tasks: StoredTask[] = [];
    let more = false;
    fill: while (true) {
      const want = query.pageSize - tasks.length + 1;
      const members = await this.redis.zrevrangebylex(key, max, min, 'LIMIT', 0, want);
      if (members.length === 0) break;
      const records = await this.fetch(members);
      for (let i = 0; i < members.length; i++) {
        const member = members[i] as string;
        max = `(${member}`;
        const record = records[i];
        if (!record) {
          await this.redis.zrem(key, member);
          continue;
        }
        if (postFilterState !== undefined && String(record.task.status?.state) !== postFilterState) continue;
        if (tasks.length === query.pageSize) {
          more = true;
          break fill;
        }
        tasks.push(record);
      }
      if (members.length < want) break;
    }
    const last = tasks[tasks.length - 1];
    return {
      tasks,
      nextPageToken: more && last ? encodeCursor(last.updatedAt, last.task.id) : '',
      totalSize: await this.count(key, min, postFilterState),
    };
  }

  async delete(taskId: string): Promise<void> {
    const h = await this.redis.hmget(this.keys.task(taskId), 'agent', 'tenant', 'updatedAt', 'state', 'ctx');
    await this.redis.del(
      this.keys.task(taskId),
      this.keys.events(taskId),
      this.keys.seq(taskId),
      this.keys.push(taskId),
      this.keys.steps(taskId),
    );
    await this.redis.zrem(this.keys.finished(), taskId);
    const [agent, tenant, updatedAt, state, ctx] = h;
    if (agent === null || agent === undefined) return;
    const member = indexMember(Number(updatedAt), taskId);
    await this.redis
      .multi()
      .zrem(this.keys.index(agent, tenant ?? ''), member)
      .zrem(this.keys.index(agent, tenant ?? '', `:ctx:${ctx ?? ''}`), member)
      .zrem(this.keys.index(agent, tenant ?? '', `:state:${state ?? ''}`), member)
      .exec();
  }

  /** Evicts finished tasks older than the TTL; returns how many went. */
  async sweep(now = Date.now()): Promise<number> {
    const expired = await this.redis.zrangebyscore(
      this.keys.finished(),
      '-inf',
      now - this.retention.ttlMs,
      'LIMIT',
      0,
      1000,
    );
    for (const id of expired) await this.delete(id);
    return expired.length;
  }

  private async finished(taskId: string): Promise<void> {
    await this.redis.zadd(this.keys.finished(), Date.now(), taskId);
    const excess = (await this.redis.zcard(this.keys.finished())) - this.retention.maxTerminalTasks;
    if (excess <= 0) return;
    const popped = await this.redis.zpopmin(this.keys.finished(), excess);
    for (let i = 0; i < popped.length; i += 2) await this.delete(popped[i] as string);
  }

  /** Moves the task's index entries from its old (updatedAt, state, context) to its new ones. */
  private async index(
    record: Omit<StoredTask, 'version'>,
    old: { updatedAt: number; state: string; ctx: string } | undefined,
  ): Promise<void> {
    const id = record.task.id;
    const state = String(record.task.status?.state ?? 0);
    const ctx = record.task.contextId;
    const { agent, tenant } = record;
    const member = indexMember(record.updatedAt, id);
    const multi = this.redis.multi();
    if (old) {
      const oldMember = indexMember(old.updatedAt, id);
      if (oldMember !== member) multi.zrem(this.keys.index(agent, tenant), oldMember);
      if (oldMember !== member || old.ctx !== ctx)
        multi.zrem(this.keys.index(agent, tenant, `:ctx:${old.ctx}`), oldMember);
      if (oldMember !== member || old.state !== state) {
        multi.zrem(this.keys.index(agent, tenant, `:state:${old.state}`), oldMember);
      }
    }
    multi
      .zadd(this.keys.index(agent, tenant), 0, member)
      .zadd(this.keys.index(agent, tenant, `:ctx:${ctx}`), 0, member)
      .zadd(this.keys.index(agent, tenant, `:state:${state}`), 0, member);
    await multi.exec();
  }

  private async fetch(members: string[]): Promise<Array<StoredTask | undefined>> {
    const pipeline = this.redis.pipeline();
    for (const m of members) pipeline.hgetall(this.keys.task(m.slice(m.indexOf(':') + 1)));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, h]) => (error ? undefined : decode(h as Record<string, string>)));
  }

  private async count(key: string, min: string, state: string | undefined): Promise<number> {
    if (state === undefined) return this.redis.zlexcount(key, min, '+');
    const members = await this.redis.zrangebylex(key, min, '+');
    const pipeline = this.redis.pipeline();
    for (const m of members) pipeline.hget(this.keys.task(m.slice(m.indexOf(':') + 1)), 'state');
    const states = (await pipeline.exec()) ?? [];
    return states.filter(([, s]) => s === state).length;
  }

  private fields(record: Omit<StoredTask, 'version'>): string[] {
    return [
      record.agent,
      record.tenant,
      String(record.lastSeq),
      String(record.updatedAt),
      String(record.task.status?.state ?? 0),
      record.task.contextId,
      JSON.stringify(Task.toJSON(record.task)),
    ];
  }

  private call(command: string, keys: string[], args: string[]): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>)[command];
    if (!fn) throw new Error(`Redis command ${command} is not defined`);
    return fn.call(this.redis, ...keys, ...args);
  }
}

function decode(h: Record<string, string>): StoredTask | undefined {
  if (!h || h.v === undefined || h.task === undefined) return undefined;
  return {
    task: Task.fromJSON(JSON.parse(h.task)),
    agent: h.agent ?? '',
    tenant: h.tenant ?? '',
    version: Number(h.v),
    lastSeq: Number(h.lastSeq),
    updatedAt: Number(h.updatedAt),
  };
}
