/**
 * Followers of task event logs on Redis, sharing blocking connections: instead of one
 * connection blocked in XREAD per open stream, a replica runs a few reader loops, each
 * blocked in one XREAD over up to {@link KEYS_PER_READER} streams, and fans every event out
 * to the followers of its stream in this process. 5,000 open streams hold about 20 Redis
 * connections instead of 5,000.
 *
 * A follower first catches up on its own (XRANGE from its cursor on the shared command
 * connection) while the live events the reader delivers meanwhile wait in its buffer; then
 * it takes the buffer, skipping what it already had, so nothing is missed or repeated
 * whatever the reader's position when it joined. A follower that falls behind (its buffer
 * full: a slow client) drops the buffer and catches up from the stream again, so memory per
 * follower stays bounded. The close marker `1-0` ends every follower of its stream after the
 * events before it; a stream that expired while idle ends its followers when its task is
 * finished or gone.
 *
 * Redis Cluster cannot XREAD streams of different slots in one command; there each
 * follower keeps its own connection (RedisEventLog's own reader).
 */
import { StreamResponse } from '@a2a-js/sdk';
import type { Redis } from 'ioredis';
import { AgentdError } from '../../errors.js';
import { isTerminal } from '../../engine/task-state.js';
import type { TaskEventRecord } from '../ports.js';

/** Streams one reader connection blocks on at most. */
export const KEYS_PER_READER = 256;
/** How long a reader blocks per XREAD before it checks for expired streams. */
const BLOCK_MS = 5000;
/** Live events (and their bytes) held per follower before it falls back to catching up from the stream. */
const MAX_BUFFERED = 1000;
const MAX_BUFFERED_BYTES = 1 << 20;
const CLOSED_ID = '1-0';
const BATCH = 1000;

type XReadReply = Array<[string, Array<[string, string[]]>]> | null;

interface Follower {
  readonly key: string;
  /** The last sequence this follower has (or skipped as already delivered). */
  last: number;
  buffer: Sized[];
  bufferedBytes: number;
  /** Counts the times its buffer was dropped (a catch-up that overlapped one is not done). */
  drops: number;
  /** Catching up from the stream (at the start, and after its buffer overflowed). */
  lagging: boolean;
  /** The stream's close marker was seen. */
  closed: boolean;
  /** The stream expired and its task is over: end once caught up. */
  expired: boolean;
  error: Error | undefined;
  wake: (() => void) | undefined;
}

interface Sized {
  readonly record: TaskEventRecord;
  readonly bytes: number;
}

interface Followed {
  /** The id the reader reads after. */
  cursor: string;
  readonly taskKey: string;
  readonly followers: Set<Follower>;
}

export class SharedStreamReader {
  private readonly readers: ReaderLoop[] = [];
  private closing = false;

  constructor(private readonly redis: Redis) {}

  /** Redis connections the readers hold now. */
  get connections(): number {
    return this.readers.length;
  }

  /**
   * The events of stream `key` after `afterSeq`, live until the close marker; `taskKey` is
   * the task's hash (its `state` says whether an expired stream is over).
   */
  async *follow(
    key: string,
    taskKey: string,
    taskId: string,
    afterSeq: number,
    signal: AbortSignal,
  ): AsyncGenerator<TaskEventRecord, void, undefined> {
    if (signal.aborted || this.closing) return;
    const follower: Follower = {
      key,
      last: afterSeq,
      buffer: [],
      bufferedBytes: 0,
      drops: 0,
      lagging: true,
      closed: false,
      expired: false,
      error: undefined,
      wake: undefined,
    };
    const reader = this.readerFor(key);
    reader.add(key, taskKey, afterSeq, follower);
    const onAbort = (): void => follower.wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (signal.aborted || this.closing) return;
        if (follower.error) throw storeUnavailable(taskId, follower.error);
        if (follower.lagging) {
          const caught = await this.catchUp(follower);
          for (const record of caught) {
            yield record;
            if (signal.aborted) return;
          }
          continue;
        }
        const next = follower.buffer.shift();
        if (next) {
          follower.bufferedBytes -= next.bytes;
          if (next.record.seq <= follower.last) continue;
          follower.last = next.record.seq;
          yield next.record;
          continue;
        }
        if (follower.closed || follower.expired) return;
        await new Promise<void>((resolve) => (follower.wake = resolve));
        follower.wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      reader.remove(key, follower);
      const at = this.readers.indexOf(reader);
      if (reader.size === 0 && at >= 0) this.readers.splice(at, 1);
    }
  }

  /** Stops every reader (store shutdown): followers end. */
  close(): void {
    this.closing = true;
    for (const r of this.readers.splice(0)) r.stop();
  }

  /** One batch from the stream after the follower's cursor; caught up when it is short. */
  private async catchUp(follower: Follower): Promise<TaskEventRecord[]> {
    const drops = follower.drops;
    let entries: Array<[string, string[]]>;
    try {
      entries = await this.redis.xrange(follower.key, `0-${follower.last + 1}`, '+', 'COUNT', BATCH);
    } catch (error) {
      follower.error = error as Error;
      return [];
    }
    const records: TaskEventRecord[] = [];
    for (const [id, fields] of entries) {
      if (id === CLOSED_ID) {
        follower.closed = true;
        break;
      }
      const sized = recordOf(id, fields);
      if (sized) records.push(sized.record);
      follower.last = Number(id.slice(2));
    }
    // Caught up once a read reaches the end of the stream and no live event was dropped
    // meanwhile (a dropped one may be newer than what this read saw).
    if (entries.length < BATCH && follower.drops === drops) follower.lagging = false;
    return records;
  }

  private readerFor(key: string): ReaderLoop {
    const existing = this.readers.find((r) => r.has(key));
    if (existing) return existing;
    const roomy = this.readers.find((r) => r.size < KEYS_PER_READER);
    if (roomy) return roomy;
    const reader = new ReaderLoop(this.redis);
    this.readers.push(reader);
    return reader;
  }
}

/** One blocking connection reading a set of streams and handing their events out. */
class ReaderLoop {
  private readonly streams = new Map<string, Followed>();
  private conn: Redis | undefined;
  private clientId: number | undefined;
  private running = false;
  private stopped = false;
  /** The XREAD in flight does not cover every stream: interrupt it once. */
  private unblockPending = false;

  constructor(private readonly redis: Redis) {}

  get size(): number {
    return this.streams.size;
  }

  has(key: string): boolean {
    return this.streams.has(key);
  }

  add(key: string, taskKey: string, afterSeq: number, follower: Follower): void {
    let followed = this.streams.get(key);
    if (!followed) {
      followed = { cursor: `0-${afterSeq}`, taskKey, followers: new Set() };
      this.streams.set(key, followed);
      this.interrupt();
    }
    followed.followers.add(follower);
    if (!this.running) void this.loop();
  }

  remove(key: string, follower: Follower): void {
    const followed = this.streams.get(key);
    if (!followed) return;
    followed.followers.delete(follower);
    // The XREAD in flight may still return this stream's events: they are then dropped.
    if (followed.followers.size === 0) this.streams.delete(key);
    if (this.streams.size === 0) this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.conn?.disconnect();
    this.conn = undefined;
    // Its followers see the reader closing (SharedStreamReader.close) and end.
    for (const followed of this.streams.values()) for (const f of followed.followers) f.wake?.();
  }

  /** Makes the blocked XREAD return now, so the next one includes the streams added since. */
  private interrupt(): void {
    if (!this.running || this.unblockPending) return;
    this.unblockPending = true;
    let tries = 0;
    const attempt = (): void => {
      // The loop came round (its next XREAD covers the new stream), or stopped: done. After
      // 50 tries (100 ms) the XREAD's own timeout brings the new stream in.
      if (!this.unblockPending || !this.running || ++tries > 50) return;
      const id = this.clientId;
      if (id === undefined) {
        setTimeout(attempt, 2).unref();
        return;
      }
      this.redis.client('UNBLOCK', id).then(
        // 0: the XREAD was not blocked yet (it is on its way); try again shortly.
        (unblocked) => {
          if (Number(unblocked) === 0) setTimeout(attempt, 2).unref();
        },
        () => {},
      );
    };
    queueMicrotask(attempt);
  }

  private async loop(): Promise<void> {
    this.running = true;
    this.stopped = false;
    const conn = this.redis.duplicate();
    conn.on('error', () => {});
    // A reconnected connection has a new id: CLIENT UNBLOCK must name that one.
    conn.on('ready', () => {
      conn.client('ID').then(
        (id) => {
          if (this.conn === conn) this.clientId = Number(id);
        },
        () => {},
      );
    });
    this.conn = conn;
    let checkedExpiry = Date.now();
    try {
      this.clientId = Number(await conn.client('ID'));
      while (!this.stopped && this.streams.size > 0) {
        this.unblockPending = false;
        const keys = [...this.streams.keys()];
        const ids = keys.map((k) => this.streams.get(k)?.cursor ?? '0-0');
        const reply = (await conn.xread(
          'COUNT',
          BATCH,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          ...keys,
          ...ids,
        )) as XReadReply;
        if (this.stopped) break;
        if (reply) for (const [key, entries] of reply) this.deliver(key, entries);
        // Streams that expired while idle, looked for every block period even when other
        // streams of this reader keep it busy.
        if (Date.now() - checkedExpiry >= BLOCK_MS) {
          checkedExpiry = Date.now();
          await this.endExpired(conn, [...this.streams.keys()]);
        }
      }
    } catch (error) {
      if (!this.stopped) this.fail(error as Error);
    } finally {
      this.running = false;
      this.clientId = undefined;
      conn.disconnect();
      if (this.conn === conn) this.conn = undefined;
      // Streams added after the loop decided to end need a new one.
      if (!this.stopped && this.streams.size > 0) void this.loop();
    }
  }

  private deliver(key: string, entries: Array<[string, string[]]>): void {
    const followed = this.streams.get(key);
    if (!followed) return;
    const records: Sized[] = [];
    let bytes = 0;
    let closed = false;
    for (const [id, fields] of entries) {
      if (id === CLOSED_ID) {
        closed = true;
        break;
      }
      followed.cursor = id;
      const sized = recordOf(id, fields);
      if (sized) {
        records.push(sized);
        bytes += sized.bytes;
      }
    }
    for (const f of followed.followers) {
      if (f.buffer.length + records.length > MAX_BUFFERED || f.bufferedBytes + bytes > MAX_BUFFERED_BYTES) {
        // A follower this far behind reads from the stream again instead of holding more.
        f.buffer = [];
        f.bufferedBytes = 0;
        f.drops++;
        f.lagging = true;
      } else {
        f.buffer.push(...records);
        f.bufferedBytes += bytes;
      }
      if (closed) f.closed = true;
      f.wake?.();
    }
    if (closed) this.streams.delete(key);
  }

  /** Streams that no longer exist: their followers end when the task is finished or gone. */
  private async endExpired(conn: Redis, keys: readonly string[]): Promise<void> {
    const pipeline = conn.pipeline();
    for (const k of keys) pipeline.exists(k);
    const exists = (await pipeline.exec()) ?? [];
    const gone = keys.filter((_, i) => exists[i]?.[1] === 0);
    for (const key of gone) {
      const followed = this.streams.get(key);
      if (!followed) continue;
      const state = await conn.hget(followed.taskKey, 'state');
      if (state !== null && !isTerminal(Number(state))) continue;
      for (const f of followed.followers) {
        f.expired = true;
        f.wake?.();
      }
      this.streams.delete(key);
    }
  }

  private fail(error: Error): void {
    for (const followed of this.streams.values()) {
      for (const f of followed.followers) {
        f.error = error;
        f.wake?.();
      }
    }
    this.streams.clear();
  }
}

function recordOf(id: string, fields: string[]): Sized | undefined {
  const json = fields[fields.indexOf('e') + 1];
  if (json === undefined) return undefined;
  return {
    record: { seq: Number(id.slice(2)), event: StreamResponse.fromJSON(JSON.parse(json)) },
    bytes: json.length,
  };
}

function storeUnavailable(taskId: string, cause: Error): AgentdError {
  return new AgentdError(
    'STORE_UNAVAILABLE',
    `The state store (Redis) is unavailable while streaming task ${taskId}; resubscribe with Last-Event-ID`,
    { taskId },
    { cause },
  );
}
