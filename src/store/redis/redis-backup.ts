import { StreamResponse, TaskPushNotificationConfig } from '@a2a-js/sdk';
import { Cluster, type Redis } from 'ioredis';
import { isTerminal } from '../../engine/task-state.js';
import type { StoreBackup, TaskBackup, TaskEventRecord } from '../ports.js';
import { eventJson } from './redis-event-log.js';
import type { RedisKeys } from './redis-keys.js';
import { decodeTaskHash, type RedisTaskStore } from './redis-task-store.js';

/**
 * Writes one restored task unless a version at least as new is stored. KEYS: task, events,
 * seq, push, steps (one slot). ARGV[1]: '1' to overwrite anyway; ARGV[2..11]: the task's
 * version, agent, tenant, lastSeq, updatedAt, state, ctx, task JSON, key TTL ms (0: none),
 * owner; ARGV[12..15]: number of events, '1' when the log is closed, number of push configs,
 * number of checkpoints; ARGV[16]: TTL ms of a closed log (0: none); then (seq, event JSON)
 * pairs, (config id, config JSON) pairs, (step, JSON) pairs. Returns {0} when skipped, else
 * {version} or, when it replaced a stored task, {version, old updatedAt, old state, old ctx}.
 */
const RESTORE = `
local cur = redis.call('HMGET', KEYS[1], 'v', 'updatedAt', 'state', 'ctx')
local v = tonumber(ARGV[2])
if cur[1] and ARGV[1] ~= '1' and tonumber(cur[1]) >= v then return {0} end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('HSET', KEYS[1], 'v', v, 'agent', ARGV[3], 'tenant', ARGV[4], 'lastSeq', ARGV[5],
  'updatedAt', ARGV[6], 'state', ARGV[7], 'ctx', ARGV[8], 'task', ARGV[9], 'owner', ARGV[11])
local ne, np, ns = tonumber(ARGV[12]), tonumber(ARGV[14]), tonumber(ARGV[15])
local at = 17
local last = tonumber(ARGV[5])
for i = 1, ne do
  redis.call('XADD', KEYS[2], '0-' .. ARGV[at], 'e', ARGV[at + 1])
  last = math.max(last, tonumber(ARGV[at]))
  at = at + 2
end
if last > 0 then redis.call('SET', KEYS[3], last) end
for i = 1, np do
  redis.call('HSET', KEYS[4], ARGV[at], ARGV[at + 1])
  at = at + 2
end
for i = 1, ns do
  redis.call('HSET', KEYS[5], ARGV[at], ARGV[at + 1])
  at = at + 2
end
local ttl = tonumber(ARGV[10])
if ttl > 0 then
  for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], ttl) end
end
if ARGV[13] == '1' and ne > 0 then
  redis.call('XADD', KEYS[2], '1-0', 'closed', '1')
  local closedTtl = tonumber(ARGV[16])
  if closedTtl > 0 then
    redis.call('PEXPIRE', KEYS[2], closedTtl)
    redis.call('PEXPIRE', KEYS[3], closedTtl)
  end
end
if cur[1] then return {v, cur[2], cur[3], cur[4]} end
return {v}`;

/**
 * Queues a restored task that was waiting or running, unless the queue has an entry for it
 * (queued or leased here already). The entry is the queue's own format (see
 * redis-work-queue.ts): no owner, the attempts so far, the encoded agent, the payload.
 * KEYS: work hash, the agent's waiting list. ARGV: id, attempt, encoded agent, payload,
 * work channel. Returns 1 when queued.
 */
const QUEUE_RESTORED = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '\\n' .. ARGV[2] .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[4])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[5], ARGV[3])
return 1`;

/** A `{q}:work` entry: owner, attempt, encoded agent, payload (see redis-work-queue.ts). */
const WORK_ENTRY = /^[^\n]*\n(\d+)\n([^\n]*)\n([\s\S]*)$/;

/** Largest sequence part of a stream id (XRANGE upper bound below the close marker). */
const MAX_SEQ = '18446744073709551615';
/** Task keys per SCAN step and per pipelined read. */
const BATCH = 200;

/**
 * The nodes to scan: every primary of a Cluster (the store hands its client over typed as
 * `Redis`), once the client knows them all (it starts from the seed nodes), else the one server.
 */
async function scanNodes(redis: Redis): Promise<Redis[]> {
  const client: unknown = redis;
  if (!(client instanceof Cluster)) return [redis];
  if (client.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      client.once('end', () => reject(new Error('the Redis Cluster connection ended')));
    });
  }
  return client.nodes('master');
}

/** Escapes Redis glob metacharacters, so a key prefix matches only itself. */
function globLiteral(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * {@link StoreBackup} on Redis. Export walks the task hashes with SCAN (no KEYS: the server
 * keeps answering) and reads a batch of tasks at a time, each task's hash before its
 * stream, so the events cover the snapshot; memory holds one batch plus the ids already
 * exported (SCAN may return a key twice). Restore writes each task in one script on its
 * slot, then its index entries, then (a task not finished) its queue entry. On a Cluster
 * the scan walks every primary; with Sentinel it reads the current master.
 */
export class RedisBackup implements StoreBackup {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly tasks: RedisTaskStore,
    private readonly prefix: string,
    /** How long a finished task's event log is kept after it closed (0: with the task). */
    private readonly closedStreamTtlMs: number,
  ) {
    redis.defineCommand('agentdRestoreTask', { numberOfKeys: 5, lua: RESTORE });
    redis.defineCommand('agentdQueueRestored', { numberOfKeys: 2, lua: QUEUE_RESTORED });
  }

  async *export(): AsyncGenerator<TaskBackup, void, undefined> {
    const match = `${globLiteral(this.prefix)}{t:*}:task`;
    const head = `${this.prefix}{t:`.length;
    const seen = new Set<string>();
    // On a Cluster every primary holds its own slots: each is scanned in turn.
    for (const node of await scanNodes(this.redis)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', BATCH);
        cursor = next;
        const ids = keys.map((k) => k.slice(head, -'}:task'.length)).filter((id) => !seen.has(id));
        for (const id of ids) seen.add(id);
        if (ids.length > 0) yield* this.read(ids);
      } while (cursor !== '0');
    }
  }

  /**
   * Reads a batch of tasks: per task its hash, then its events, push configs, steps and queue
   * entry. The reads are issued in one tick: on one Redis they go out in one write; on a
   * Cluster each goes to its task's node (a pipeline would have to stay on one node). A
   * task's reads share one connection, so its hash is read before its events.
   */
  private async *read(ids: string[]): AsyncGenerator<TaskBackup, void, undefined> {
    const r = this.redis;
    const replies = await Promise.all(
      ids.map((id) =>
        Promise.all([
          r.hgetall(this.keys.task(id)),
          r.xrange(this.keys.events(id), '0-1', `0-${MAX_SEQ}`),
          r.hvals(this.keys.push(id)),
          r.hgetall(this.keys.steps(id)),
          r.hget(this.keys.queue('work'), id),
        ]),
      ),
    );
    for (let i = 0; i < ids.length; i++) {
      const reply = replies[i] as unknown[];
      const at = (k: number): unknown => reply[k];
      const record = decodeTaskHash(at(0) as Record<string, string>);
      if (!record) continue; // deleted (or expired) since SCAN saw it
      const entries = at(1) as Array<[string, string[]]>;
      const events: TaskEventRecord[] = entries.flatMap(([sid, fields]) => {
        const json = fields[fields.indexOf('e') + 1];
        return json === undefined
          ? []
          : [{ seq: Number(sid.slice(2)), event: StreamResponse.fromJSON(JSON.parse(json)) }];
      });
      const pushConfigs = (at(2) as string[]).map((json) =>
        TaskPushNotificationConfig.fromJSON(JSON.parse(json)),
      );
      const checkpoints = Object.entries(at(3) as Record<string, string>);
      const entry = isTerminal(record.task.status?.state)
        ? null
        : WORK_ENTRY.exec((at(4) as string | null) ?? '');
      const work = entry
        ? { agent: decodeURIComponent(entry[2] ?? ''), attempt: Number(entry[1]), payload: entry[3] ?? '' }
        : undefined;
      yield { record, events, pushConfigs, checkpoints, work };
    }
  }

  async restore(b: TaskBackup, force: boolean): Promise<boolean> {
    const { record } = b;
    const id = record.task.id;
    const closed = isTerminal(record.task.status?.state);
    const args = [
      force ? '1' : '0',
      ...this.tasks.saveArgs(record, record.version),
      String(b.events.length),
      closed ? '1' : '0',
      String(b.pushConfigs.length),
      String(b.checkpoints.length),
      String(this.closedStreamTtlMs),
      ...b.events.flatMap((e) => [String(e.seq), eventJson(e.event)]),
      ...b.pushConfigs.flatMap((c) => [c.id, JSON.stringify(TaskPushNotificationConfig.toJSON(c))]),
      ...b.checkpoints.flatMap(([step, json]) => [step, json]),
    ];
    const restoreTask = (this.redis as unknown as { agentdRestoreTask(...a: string[]): Promise<string[]> })
      .agentdRestoreTask;
    const reply = await restoreTask.call(this.redis, ...this.tasks.taskKeys(id), ...args);
    if (Number(reply[0]) === 0) return false;
    const old =
      reply.length > 1
        ? { updatedAt: Number(reply[1]), state: String(reply[2] ?? ''), ctx: String(reply[3] ?? '') }
        : undefined;
    await this.tasks.restored(record, old);
    if (b.work && !closed) {
      const queue = (this.redis as unknown as { agentdQueueRestored(...a: string[]): Promise<number> })
        .agentdQueueRestored;
      await queue.call(
        this.redis,
        this.keys.queue('work'),
        this.keys.waiting(b.work.agent),
        id,
        String(b.work.attempt),
        encodeURIComponent(b.work.agent),
        b.work.payload,
        this.keys.workChannel(),
      );
    }
    return true;
  }
}
