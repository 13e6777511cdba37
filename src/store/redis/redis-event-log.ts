import { StreamResponse } from '@a2a-js/sdk';
import type { Redis } from 'ioredis';
import { AgentdError } from '../../errors.js';
import { isTerminal } from '../../engine/task-state.js';
import { releaseOnce } from '../follower-release.js';
import type { EventLog, TaskEventRecord } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * Appends with the next sequence number as the stream id `0-<seq>`, unless the entry at
 * the sequence the writer expected (ARGV[2]) is already this event. KEYS: events, seq.
 */
const APPEND = `
local expected = tonumber(ARGV[2])
if expected > 0 then
  -- An append re-sent after a dropped connection finds this very event at its sequence.
  local at = redis.call('XRANGE', KEYS[1], '0-' .. expected, '0-' .. expected)
  if at[1] and at[1][2][2] == ARGV[1] then return expected end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], '0-' .. seq, 'e', ARGV[1])
return seq`;

/**
 * Marks an existing stream closed with the entry `1-0` (after every `0-<seq>`), and lets
 * it and its counter expire after ARGV[1] ms: the task snapshot holds the outcome, and a
 * follower still behind has that long to read the rest. KEYS: events, seq.
 */
const CLOSE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if not (last[1] and last[1][1] == '1-0') then redis.call('XADD', KEYS[1], '1-0', 'closed', '1') end
if tonumber(ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return 1`;

const CLOSED_ID = '1-0';
/** Largest sequence part of a stream id (XRANGE upper bound below the close marker). */
const MAX_SEQ = '18446744073709551615';
/** How long a follower blocks per XREAD before it re-checks its signal. */
const BLOCK_MS = 5000;
/** Deleted logs stay readable this long for followers attached before the delete. */
const DELETE_GRACE_MS = 60_000;

/**
 * {@link EventLog} on Redis Streams: one stream per task with ids `0-<seq>`, so a cursor
 * is a stream id and any replica replays exactly the events after it, in order. A
 * follower reads with XREAD BLOCK on its own connection (blocking commands hold their
 * connection); aborting its signal disconnects that connection, which ends the read at
 * once. Closing appends the marker entry `1-0`, which ends every follower after the
 * events before it.
 */
export class RedisEventLog implements EventLog {
  private followers = 0;
  private readonly connections = new Set<Redis>();

  /**
   * @param closedTtlMs how long a closed log stays readable (0: until the task is evicted).
   */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly closedTtlMs = 0,
  ) {
    redis.defineCommand('agentdAppendEvent', { numberOfKeys: 2, lua: APPEND });
    redis.defineCommand('agentdCloseEvents', { numberOfKeys: 2, lua: CLOSE });
  }

  async append(taskId: string, event: StreamResponse, expectedSeq = 0): Promise<number> {
    const json = JSON.stringify(StreamResponse.toJSON(event));
    const append = (this.redis as unknown as { agentdAppendEvent(...a: string[]): Promise<number> })
      .agentdAppendEvent;
    return append.call(
      this.redis,
      this.keys.events(taskId),
      this.keys.seq(taskId),
      json,
      String(expectedSeq),
    );
  }

  follow(taskId: string, afterSeq: number, signal: AbortSignal): AsyncIterable<TaskEventRecord> {
    // The stream keeps every event, so reading from the cursor whenever iteration starts
    // misses nothing appended after this call; the count is what registers the follower.
    this.followers++;
    const release = releaseOnce(signal, () => this.followers--);
    return { [Symbol.asyncIterator]: () => this.iterate(taskId, afterSeq, signal, release) };
  }

  async read(taskId: string, afterSeq: number): Promise<TaskEventRecord[]> {
    const entries = await this.redis.xrange(this.keys.events(taskId), `0-${afterSeq + 1}`, '0-' + MAX_SEQ);
    return entries.flatMap(([id, fields]) => {
      const json = fields[fields.indexOf('e') + 1];
      return json === undefined
        ? []
        : [{ seq: Number(id.slice(2)), event: StreamResponse.fromJSON(JSON.parse(json)) }];
    });
  }

  async close(taskId: string): Promise<void> {
    await this.closeWithin(taskId, this.closedTtlMs);
  }

  /** Closes the log and lets it expire shortly, so followers already attached can finish reading. */
  async delete(taskId: string): Promise<void> {
    await this.closeWithin(taskId, DELETE_GRACE_MS);
  }

  private async closeWithin(taskId: string, ttlMs: number): Promise<void> {
    const close = (this.redis as unknown as { agentdCloseEvents(...a: string[]): Promise<number> })
      .agentdCloseEvents;
    await close.call(this.redis, this.keys.events(taskId), this.keys.seq(taskId), String(ttlMs));
  }

  followerCount(): number {
    return this.followers;
  }

  /** Disconnects every follower's connection (store shutdown). */
  closeFollowers(): void {
    for (const c of this.connections) c.disconnect();
  }

  private async *iterate(
    taskId: string,
    afterSeq: number,
    signal: AbortSignal,
    release: () => void,
  ): AsyncGenerator<TaskEventRecord, void, undefined> {
    if (signal.aborted) {
      release();
      return;
    }
    const conn = this.redis.duplicate();
    // Its failures surface as a rejected XREAD; the main connection reports outages.
    conn.on('error', () => {});
    this.connections.add(conn);
    const stop = (): void => conn.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    let cursor = `0-${afterSeq}`;
    const key = this.keys.events(taskId);
    try {
      while (!signal.aborted) {
        let reply: Array<[string, Array<[string, string[]]>]> | null;
        try {
          reply = (await conn.xread(
            'COUNT',
            1000,
            'BLOCK',
            BLOCK_MS,
            'STREAMS',
            key,
            cursor,
          )) as typeof reply;
        } catch (error) {
          if (signal.aborted) return;
          // A stream whose Redis went away ends with the retryable catalogue error, not an internal one.
          throw new AgentdError(
            'STORE_UNAVAILABLE',
            `The state store (Redis) is unavailable while streaming task ${taskId}; resubscribe with Last-Event-ID`,
            { taskId },
            { cause: error },
          );
        }
        if (!reply) {
          // A closed log that expired while this follower was behind: nothing more will come.
          if ((await conn.exists(key)) === 0) {
            const state = await conn.hget(this.keys.task(taskId), 'state');
            if (state === null || isTerminal(Number(state))) return;
          }
          continue;
        }
        for (const [id, fields] of reply[0]?.[1] ?? []) {
          if (id === CLOSED_ID) return;
          cursor = id;
          const json = fields[fields.indexOf('e') + 1];
          if (json === undefined) continue;
          yield { seq: Number(id.slice(2)), event: StreamResponse.fromJSON(JSON.parse(json)) };
          if (signal.aborted) return;
        }
      }
    } finally {
      signal.removeEventListener('abort', stop);
      this.connections.delete(conn);
      conn.disconnect();
      release();
    }
  }
}
