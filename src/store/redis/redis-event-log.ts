import { StreamResponse } from '@a2a-js/sdk';
import type { Redis } from 'ioredis';
import { AgentdError } from '../../errors.js';
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

/** Marks an existing stream closed with the entry `1-0` (after every `0-<seq>`). KEYS: events. */
const CLOSE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] and last[1][1] == '1-0' then return 0 end
redis.call('XADD', KEYS[1], '1-0', 'closed', '1')
return 1`;

const CLOSED_ID = '1-0';
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

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('agentdAppendEvent', { numberOfKeys: 2, lua: APPEND });
    redis.defineCommand('agentdCloseEvents', { numberOfKeys: 1, lua: CLOSE });
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

  async close(taskId: string): Promise<void> {
    const close = (this.redis as unknown as { agentdCloseEvents(...a: string[]): Promise<number> })
      .agentdCloseEvents;
    await close.call(this.redis, this.keys.events(taskId));
  }

  /** Closes the log and lets it expire shortly, so followers already attached can finish reading. */
  async delete(taskId: string): Promise<void> {
    await this.close(taskId);
    await this.redis
      .multi()
      .pexpire(this.keys.events(taskId), DELETE_GRACE_MS)
      .pexpire(this.keys.seq(taskId), DELETE_GRACE_MS)
      .exec();
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
        if (!reply) continue;
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
