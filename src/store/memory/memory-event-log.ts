import type { StreamResponse } from '@a2a-js/sdk';
import { releaseOnce } from '../follower-release.js';
import type { EventLog, TaskEventRecord } from '../ports.js';

interface TaskLog {
  /** Retained records; `records[i].seq === firstSeq + i`. */
  records: TaskEventRecord[];
  firstSeq: number;
  lastSeq: number;
  closed: boolean;
  /** Set when the log was deleted; followers holding it drain what is left, then end. */
  deleted: boolean;
  followers: number;
  /** Followers asleep until the next append (created on first use). */
  wakers: Set<() => void> | undefined;
}

/**
 * In-process {@link EventLog}. Followers keep a cursor into the task's own record array
 * and sleep until the next append, so a slow reader costs no extra memory. A task keeps
 * at most `maxEventsPerTask` events; older ones are dropped (a follower whose cursor
 * fell behind continues from the oldest retained event, and the engine's snapshot-first
 * subscribe makes that gap harmless).
 */
export class MemoryEventLog implements EventLog {
  private readonly logs = new Map<string, TaskLog>();
  private followers = 0;

  constructor(private readonly maxEventsPerTask = 10_000) {}

  async append(taskId: string, event: StreamResponse): Promise<number> {
    const log = this.ensure(taskId);
    const seq = ++log.lastSeq;
    log.records.push({ seq, event });
    if (log.records.length > this.maxEventsPerTask) {
      const drop = log.records.length - this.maxEventsPerTask;
      log.records.splice(0, drop);
      log.firstSeq += drop;
    }
    wake(log);
    return seq;
  }

  async appendAll(taskId: string, events: readonly StreamResponse[]): Promise<number> {
    const first = this.ensure(taskId).lastSeq + 1;
    for (const event of events) await this.append(taskId, event);
    return first;
  }

  /** Registers the follower at once (not on first iteration), so no event can slip past. */
  follow(taskId: string, afterSeq: number, signal: AbortSignal): AsyncIterable<TaskEventRecord> {
    const log = this.ensure(taskId);
    log.followers++;
    this.followers++;
    const release = releaseOnce(signal, () => {
      log.followers--;
      this.followers--;
      // A log that only existed because someone waited on it goes away with its last follower.
      if (log.followers === 0 && log.lastSeq === 0 && this.logs.get(taskId) === log) this.logs.delete(taskId);
    });
    return { [Symbol.asyncIterator]: () => iterate(log, afterSeq, signal, release) };
  }

  async read(taskId: string, afterSeq: number): Promise<TaskEventRecord[]> {
    const log = this.logs.get(taskId);
    if (!log) return [];
    return log.records.slice(Math.max(0, afterSeq + 1 - log.firstSeq));
  }

  async close(taskId: string): Promise<void> {
    const log = this.logs.get(taskId);
    if (!log) return;
    log.closed = true;
    wake(log);
  }

  async delete(taskId: string): Promise<void> {
    const log = this.logs.get(taskId);
    if (!log) return;
    this.logs.delete(taskId);
    log.deleted = true;
    wake(log);
  }

  /**
   * Replaces the task's log with restored records (consecutive `seq`, possibly starting after 1
   * when older ones were dropped). Followers of the log it replaces end; without records the
   * next append continues after `lastSeq`.
   */
  restore(taskId: string, records: readonly TaskEventRecord[], lastSeq: number, closed: boolean): void {
    void this.delete(taskId);
    if (records.length === 0 && lastSeq === 0) return;
    const log = this.ensure(taskId);
    log.records = records.slice(-this.maxEventsPerTask);
    // Records are consecutive (the backup reader checks it): firstSeq..lastSeq, or none
    // after `lastSeq` when the log had expired.
    log.lastSeq = log.records[log.records.length - 1]?.seq ?? lastSeq;
    log.firstSeq = log.records[0]?.seq ?? lastSeq + 1;
    log.closed = closed;
  }

  followerCount(): number {
    return this.followers;
  }

  /** Number of tasks with a retained log (for retention tests). */
  size(): number {
    return this.logs.size;
  }

  private ensure(taskId: string): TaskLog {
    let log = this.logs.get(taskId);
    if (!log) {
      log = {
        records: [],
        firstSeq: 1,
        lastSeq: 0,
        closed: false,
        deleted: false,
        followers: 0,
        wakers: undefined,
      };
      this.logs.set(taskId, log);
    }
    return log;
  }
}

async function* iterate(
  log: TaskLog,
  afterSeq: number,
  signal: AbortSignal,
  release: () => void,
): AsyncGenerator<TaskEventRecord, void, undefined> {
  let cursor = afterSeq;
  try {
    while (!signal.aborted) {
      while (cursor < log.lastSeq) {
        // Re-checked on every step: events may have been dropped while this reader was
        // suspended at the yield below, and it continues from the oldest retained one.
        if (cursor < log.firstSeq - 1) cursor = log.firstSeq - 1;
        const record = log.records[cursor + 1 - log.firstSeq];
        if (!record) break;
        cursor = record.seq;
        yield record;
        if (signal.aborted) return;
      }
      if (log.closed || log.deleted) return;
      await sleepUntilWoken(log, signal);
    }
  } finally {
    release();
  }
}

function wake(log: TaskLog): void {
  const wakers = log.wakers;
  if (!wakers || wakers.size === 0) return;
  log.wakers = undefined;
  for (const w of wakers) w();
}

function sleepUntilWoken(log: TaskLog, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      log.wakers?.delete(done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    (log.wakers ??= new Set()).add(done);
    signal.addEventListener('abort', done, { once: true });
  });
}
