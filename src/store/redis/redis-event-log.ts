import { StreamResponse } from '@a2a-js/sdk';
import type { Redis } from 'ioredis';
import { AgentdError } from '../../errors.js';
import { isTerminal } from '../../engine/task-state.js';
import { releaseOnce } from '../follower-release.js';
import type { EventLog, TaskEventRecord } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';
import { APPEND_EVENTS_FN, CLOSE_EVENTS_FN } from './task-lua.js';
import { streamResponseJsonText } from '../../codec.js';
import { SharedStreamReader } from './shared-stream-reader.js';

/** Appends ARGV[2..] in order expecting the first at sequence ARGV[1]; returns the first. KEYS: events, seq. */
const APPEND_ALL = `${APPEND_EVENTS_FN}
local list = {}
for i = 2, #ARGV do list[i - 1] = ARGV[i] end
return append_events(KEYS[1], KEYS[2], tonumber(ARGV[1]), list)`;

/**
 * Closes the log and lets it and its counter expire after ARGV[1] ms (0: never): the task
 * snapshot holds the outcome, and a follower still behind has that long to read the rest.
 * KEYS: events, seq.
 */
const CLOSE = `${CLOSE_EVENTS_FN}
return close_events(KEYS[1], KEYS[2], tonumber(ARGV[1]))`;

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
  /** Followers share a few blocking connections (see SharedStreamReader); off: one each. */
  private readonly shared: SharedStreamReader | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly closedTtlMs = 0,
    sharedReader = true,
  ) {
    this.shared = sharedReader ? new SharedStreamReader(redis) : undefined;
    redis.defineCommand('agentdAppendEvents', { numberOfKeys: 2, lua: APPEND_ALL });
    redis.defineCommand('agentdCloseEvents', { numberOfKeys: 2, lua: CLOSE });
  }

  async append(taskId: string, event: StreamResponse, expectedSeq = 0): Promise<number> {
    return this.appendAll(taskId, [event], expectedSeq);
  }

  async appendAll(taskId: string, events: readonly StreamResponse[], expectedFirstSeq = 0): Promise<number> {
    if (events.length === 0) throw new Error('appendAll needs at least one event');
    const json = events.map(eventJson);
    const append = (this.redis as unknown as { agentdAppendEvents(...a: string[]): Promise<number> })
      .agentdAppendEvents;
    return append.call(
      this.redis,
      this.keys.events(taskId),
      this.keys.seq(taskId),
      String(expectedFirstSeq),
      ...json,
    );
  }

  follow(taskId: string, afterSeq: number, signal: AbortSignal): AsyncIterable<TaskEventRecord> {
    // The stream keeps every event, so reading from the cursor whenever iteration starts
    // misses nothing appended after this call; the count is what registers the follower.
    this.followers++;
    const release = releaseOnce(signal, () => this.followers--);
    return {
      [Symbol.asyncIterator]: () =>
        this.shared
          ? this.sharedIterate(taskId, afterSeq, signal, release)
          : this.iterate(taskId, afterSeq, signal, release),
    };
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

  /** Redis connections followers hold now (shared readers, or one per follower). */
  followerConnections(): number {
    return (this.shared?.connections ?? 0) + this.connections.size;
  }

  /** Disconnects every follower's connection (store shutdown). */
  closeFollowers(): void {
    this.shared?.close();
    for (const c of this.connections) c.disconnect();
  }

  private async *sharedIterate(
    taskId: string,
    afterSeq: number,
    signal: AbortSignal,
    release: () => void,
  ): AsyncGenerator<TaskEventRecord, void, undefined> {
    try {
      yield* (this.shared as SharedStreamReader).follow(
        this.keys.events(taskId),
        this.keys.task(taskId),
        taskId,
        afterSeq,
        signal,
      );
    } finally {
      release();
    }
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
          const read = conn.xread('COUNT', 1000, 'BLOCK', BLOCK_MS, 'STREAMS', key, cursor) as Promise<
            typeof reply
          >;
          reply = await untilAborted(read, signal);
          if (signal.aborted) return;
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

/**
 * `read`'s outcome, or null as soon as `signal` aborts: a single connection rejects a pending
 * read when it is disconnected, but a Cluster client may re-send it to another node instead.
 * The listener goes with the read, so a long stream does not pile up one per read.
 */
function untilAborted<T>(read: Promise<T>, signal: AbortSignal): Promise<T | null> {
  read.catch(() => {}); // when the abort comes first, the read's rejection is of no interest
  if (signal.aborted) return Promise.resolve(null);
  return new Promise<T | null>((resolve, reject) => {
    const onAbort = (): void => resolve(null);
    signal.addEventListener('abort', onAbort, { once: true });
    read.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The stored form of an event: its proto JSON. */
export function eventJson(event: StreamResponse): string {
  return streamResponseJsonText(event);
}
