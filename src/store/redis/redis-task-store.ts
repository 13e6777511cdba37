import { Task } from '@a2a-js/sdk';
import type { Redis } from 'ioredis';
import { AgentdError } from '../../errors.js';
import { isTerminal } from '../../engine/task-state.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { RetentionPolicy, StoredTask, TaskPage, TaskQuery, TaskStore } from '../ports.js';
import type { ReplicaWait } from './redis-connection.js';
import { indexMember, type RedisKeys } from './redis-keys.js';
import { SAVE_TASK_FN } from './task-lua.js';
import { taskJsonText } from '../../codec.js';

/** Creates the task hash unless it exists. KEYS: task. ARGV: the record's fields, then its owner. */
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  -- A create re-sent after a dropped connection finds its own write: that is success.
  local cur = redis.call('HMGET', KEYS[1], 'v', 'task')
  if cur[1] == '1' and cur[2] == ARGV[7] then return 1 end
  return 0
end
redis.call('HSET', KEYS[1], 'v', 1, 'agent', ARGV[1], 'tenant', ARGV[2], 'lastSeq', ARGV[3],
  'updatedAt', ARGV[4], 'state', ARGV[5], 'ctx', ARGV[6], 'task', ARGV[7], 'owner', ARGV[8])
return 1`;

/**
 * Moves a task's index entries from ARGV[1] (its old member, '' for none) in KEYS[1..3]
 * (all, old context, old state) to ARGV[2] in KEYS[1], KEYS[4], KEYS[5] (all, context,
 * state). All five share the agent/tenant hash tag.
 */
const REINDEX = `
if ARGV[1] ~= '' then
  for i = 1, 3 do redis.call('ZREM', KEYS[i], ARGV[1]) end
end
redis.call('ZADD', KEYS[1], 0, ARGV[2])
redis.call('ZADD', KEYS[4], 0, ARGV[2])
redis.call('ZADD', KEYS[5], 0, ARGV[2])
return 1`;

/** Saves the snapshot (see save_task). KEYS: task, events, seq, push, steps. ARGV: the ten save arguments. */
const SAVE = `${SAVE_TASK_FN}
return save_task(KEYS, ARGV)`;

/** The index position of a record. */
function indexedAs(record: Omit<StoredTask, 'version'>): { updatedAt: number; state: string; ctx: string } {
  return {
    updatedAt: record.updatedAt,
    state: String(record.task.status?.state ?? 0),
    ctx: record.task.contextId,
  };
}

function conflict(id: string, expected: number, found: string | undefined): AgentdError {
  return new AgentdError(
    'TASK_CONFLICT',
    `Task ${id} changed concurrently (expected version ${expected}, found ${found || 'none'})`,
    { taskId: id },
  );
}

/** What save_task returns: {version, old updatedAt, old state, old ctx}, or {0, found version}. */
export type SaveReply = [number, string?, string?, string?];

/** Keys outlive the retention TTL by this much; the sweeper removes them (and their index entries) first. */
const EXPIRY_GRACE_MS = 60_000;
/** Finishes on one replica between two enforcements of the retention count cap. */
const TRIM_EVERY = 32;

/**
 * {@link TaskStore} on Redis: a hash per task (optimistic versioning in a Lua script),
 * listings from per-agent/tenant sorted-set indexes (all tasks, per context, per state)
 * whose members sort lexically by (updatedAt, id) — no scans. Finished tasks enter a
 * finish-time index so retention can evict by age and by count.
 */
export class RedisTaskStore implements TaskStore {
  private finishedSinceTrim = 0;
  private trimming = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly retention: RetentionPolicy,
    /** Waits for replicas after a write the client is told about (store.redis.waitReplicas). */
    private readonly replicated?: ReplicaWait,
  ) {
    redis.defineCommand('agentdCreateTask', { numberOfKeys: 1, lua: CREATE });
    redis.defineCommand('agentdSaveTask', { numberOfKeys: 5, lua: SAVE });
    redis.defineCommand('agentdReindexTask', { numberOfKeys: 5, lua: REINDEX });
  }

  async create(record: Omit<StoredTask, 'version'>): Promise<StoredTask> {
    const id = record.task.id;
    // The index entries go out with the create (one round trip): an id is never reused,
    // and an entry whose task is missing is skipped by listings.
    const [created] = (await Promise.all([
      this.call('agentdCreateTask', [this.keys.task(id)], [...this.fields(record), record.owner ?? '']),
      this.index(record, undefined),
    ])) as [number, void];
    if (created !== 1) throw new AgentdError('TASK_CONFLICT', `Task ${id} already exists`, { taskId: id });
    await this.replicated?.(this.keys.task(id));
    return { ...record, version: 1 };
  }

  async get(taskId: string): Promise<StoredTask | undefined> {
    return decodeTaskHash(await this.redis.hgetall(this.keys.task(taskId)));
  }

  async save(
    record: Omit<StoredTask, 'version'>,
    expectedVersion: number,
    previous?: Omit<StoredTask, 'version'>,
  ): Promise<StoredTask> {
    const reply = this.call(
      'agentdSaveTask',
      this.taskKeys(record.task.id),
      this.saveArgs(record, expectedVersion),
    );
    const saved = await this.saved(record, expectedVersion, reply as Promise<SaveReply>, previous);
    await this.replicated?.(this.keys.task(record.task.id));
    return saved;
  }

  /** The keys of one task, in the order the save and commit scripts take them. */
  taskKeys(id: string): string[] {
    return [
      this.keys.task(id),
      this.keys.events(id),
      this.keys.seq(id),
      this.keys.push(id),
      this.keys.steps(id),
    ];
  }

  /** The ten arguments of save_task. */
  saveArgs(record: Omit<StoredTask, 'version'>, expectedVersion: number): string[] {
    const terminal = isTerminal(record.task.status?.state);
    const ttl = terminal ? this.retention.ttlMs + EXPIRY_GRACE_MS : 0;
    return [String(expectedVersion), ...this.fields(record), String(Math.ceil(ttl)), record.owner ?? ''];
  }

  /**
   * Completes a save whose save_task reply is pending: a conflict becomes TASK_CONFLICT,
   * and the indexes follow the new snapshot. With `previous` known (a run's single writer
   * knows it), the index writes go out in the same tick as the save, so in the same round
   * trip; after a conflict they are repaired from the record that won. Without it they
   * follow the reply, from the old values it returns.
   */
  async saved(
    record: Omit<StoredTask, 'version'>,
    expectedVersion: number,
    reply: Promise<SaveReply>,
    previous?: Omit<StoredTask, 'version'>,
  ): Promise<StoredTask> {
    const id = record.task.id;
    // A create (version 0) has no index entries yet: they can go out with it too.
    if (previous || expectedVersion === 0) {
      const [result] = await Promise.all([
        reply,
        ...this.indexWrites(record, previous ? indexedAs(previous) : undefined),
      ]);
      if (result[0] === 0) {
        await this.repairIndex(record).catch(() => {}); // the sweeper's delete cleans up what this misses
        throw conflict(id, expectedVersion, result[1]);
      }
      return { ...record, version: result[0] };
    }
    const [version, oldUpdatedAt, oldState, oldCtx] = await reply;
    if (version === 0) throw conflict(id, expectedVersion, oldUpdatedAt);
    await Promise.all(
      this.indexWrites(record, { updatedAt: Number(oldUpdatedAt), state: oldState ?? '', ctx: oldCtx ?? '' }),
    );
    return { ...record, version };
  }

  /** Moves the index entries to the new record, and records a task that just finished. */
  private indexWrites(
    record: Omit<StoredTask, 'version'>,
    old: { updatedAt: number; state: string; ctx: string } | undefined,
  ): Array<Promise<void>> {
    const writes = [this.index(record, old)];
    if (isTerminal(record.task.status?.state) && !(old && isTerminal(Number(old.state))))
      writes.push(this.finished(record.task.id));
    return writes;
  }

  /**
   * After a restore wrote the task hash (see redis-backup.ts): moves its index entries from
   * where the record it replaced had them (`old`, none when the task was not stored) and
   * records a finished task for retention.
   */
  async restored(
    record: Omit<StoredTask, 'version'>,
    old: { updatedAt: number; state: string; ctx: string } | undefined,
  ): Promise<void> {
    await Promise.all(this.indexWrites(record, old));
  }

  /** After a lost save: moves the entries this writer indexed to the record that is stored. */
  private async repairIndex(wrong: Omit<StoredTask, 'version'>): Promise<void> {
    const current = await this.get(wrong.task.id);
    if (current) await this.index(current, indexedAs(wrong));
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    const { agent, tenant, owner } = query;
    const stateFilter = query.state === undefined ? undefined : String(query.state);
    // One owner's tasks come from that owner's own indexes: no filtering of everyone's.
    const indexKey = (filter?: string): string =>
      owner === undefined
        ? this.keys.index(agent, tenant, filter)
        : this.keys.ownerIndex(agent, tenant, owner, filter);
    const key = query.contextId
      ? indexKey(`:ctx:${query.contextId}`)
      : stateFilter !== undefined
        ? indexKey(`:state:${stateFilter}`)
        : indexKey();
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
    const h = await this.redis.hmget(
      this.keys.task(taskId),
      'agent',
      'tenant',
      'updatedAt',
      'state',
      'ctx',
      'owner',
    );
    await this.redis.del(
      this.keys.task(taskId),
      this.keys.events(taskId),
      this.keys.seq(taskId),
      this.keys.push(taskId),
      this.keys.steps(taskId),
    );
    await this.redis.zrem(this.keys.finished(), taskId);
    const [agent, tenant, updatedAt, state, ctx, owner] = h;
    if (agent === null || agent === undefined) return;
    const member = indexMember(Number(updatedAt), taskId);
    const indexes = [(filter?: string) => this.keys.index(agent, tenant ?? '', filter)];
    if (owner) indexes.push((filter?: string) => this.keys.ownerIndex(agent, tenant ?? '', owner, filter));
    await Promise.all(
      indexes.flatMap((index) => [
        this.redis.zrem(index(), member),
        this.redis.zrem(index(`:ctx:${ctx ?? ''}`), member),
        this.redis.zrem(index(`:state:${state ?? ''}`), member),
      ]),
    );
  }

  /** Evicts finished tasks older than the TTL, and any beyond the count cap; returns how many went. */
  async sweep(now = Date.now()): Promise<number> {
    const expired = await this.redis.zrangebyscore(
      this.keys.finished(),
      '-inf',
      now - this.retention.ttlMs,
      'LIMIT',
      0,
      1000,
    );
    await Promise.all(expired.map((id) => this.delete(id)));
    return expired.length + (await this.trim());
  }

  /**
   * Records a finished task for retention. The count cap is enforced off the request
   * path: every TRIM_EVERY finishes on this replica, one trim evicts the oldest beyond it.
   */
  private async finished(taskId: string): Promise<void> {
    await this.redis.zadd(this.keys.finished(), Date.now(), taskId);
    if (++this.finishedSinceTrim < TRIM_EVERY || this.trimming) return;
    this.finishedSinceTrim = 0;
    this.trimming = true;
    void this.trim()
      .catch(() => {}) // Redis trouble: the next trim (or the sweeper) catches up
      .finally(() => (this.trimming = false));
  }

  /** Evicts the oldest finished tasks beyond `maxTerminalTasks`; returns how many went. */
  async trim(): Promise<number> {
    const excess = (await this.redis.zcard(this.keys.finished())) - this.retention.maxTerminalTasks;
    if (excess <= 0) return 0;
    const popped = await this.redis.zpopmin(this.keys.finished(), excess);
    const ids = popped.filter((_, i) => i % 2 === 0);
    await Promise.all(ids.map((id) => this.delete(id)));
    return ids.length;
  }

  /** Moves the task's index entries from its old (updatedAt, state, context) to its new ones. */
  private async index(
    record: Omit<StoredTask, 'version'>,
    old: { updatedAt: number; state: string; ctx: string } | undefined,
  ): Promise<void> {
    const id = record.task.id;
    const state = String(record.task.status?.state ?? 0);
    const ctx = record.task.contextId;
    const { agent, tenant, owner } = record;
    const member = indexMember(record.updatedAt, id);
    const reindex = (index: (filter?: string) => string): Promise<unknown> =>
      this.call(
        'agentdReindexTask',
        [
          index(),
          index(`:ctx:${old?.ctx ?? ctx}`),
          index(`:state:${old?.state ?? state}`),
          index(`:ctx:${ctx}`),
          index(`:state:${state}`),
        ],
        [old ? indexMember(old.updatedAt, id) : '', member],
      );
    // An owned task is also in its owner's indexes (another slot: a second script, same round
    // trip). Unowned tasks (the open mode) are in no owner's: that costs the open mode nothing.
    await Promise.all([
      reindex((filter) => this.keys.index(agent, tenant, filter)),
      owner ? reindex((filter) => this.keys.ownerIndex(agent, tenant, owner, filter)) : undefined,
    ]);
  }

  /**
   * One read per task, issued in the same tick: on one Redis they go out in one write (see
   * coalesceWrites) like a pipeline would; on a Cluster each goes to its task's node, where
   * a pipeline (one node) of keys in different slots would be refused.
   */
  private async fetch(members: string[]): Promise<Array<StoredTask | undefined>> {
    return Promise.all(
      members.map((m) =>
        this.redis.hgetall(this.keys.task(m.slice(m.indexOf(':') + 1))).then(decodeTaskHash, () => undefined),
      ),
    );
  }

  private async count(key: string, min: string, state: string | undefined): Promise<number> {
    if (state === undefined) return this.redis.zlexcount(key, min, '+');
    const members = await this.redis.zrangebylex(key, min, '+');
    const states = await Promise.all(
      members.map((m) => this.redis.hget(this.keys.task(m.slice(m.indexOf(':') + 1)), 'state')),
    );
    return states.filter((s) => s === state).length;
  }

  private fields(record: Omit<StoredTask, 'version'>): string[] {
    return [
      record.agent,
      record.tenant,
      String(record.lastSeq),
      String(record.updatedAt),
      String(record.task.status?.state ?? 0),
      record.task.contextId,
      taskJsonText(record.task),
    ];
  }

  private call(command: string, keys: string[], args: string[]): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, (...a: string[]) => Promise<unknown>>)[command];
    if (!fn) throw new Error(`Redis command ${command} is not defined`);
    return fn.call(this.redis, ...keys, ...args);
  }
}

/** A task hash as stored (see {@link RedisKeys.task}); undefined when it is not a complete task. */
export function decodeTaskHash(h: Record<string, string>): StoredTask | undefined {
  if (!h || h.v === undefined || h.task === undefined) return undefined;
  return {
    task: Task.fromJSON(JSON.parse(h.task)),
    agent: h.agent ?? '',
    tenant: h.tenant ?? '',
    owner: h.owner || undefined,
    version: Number(h.v),
    lastSeq: Number(h.lastSeq),
    updatedAt: Number(h.updatedAt),
  };
}
