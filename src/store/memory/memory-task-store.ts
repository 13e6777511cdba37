import { AgentdError } from '../../errors.js';
import { isTerminal } from '../../engine/task-state.js';
import type { StoredTask, TaskPage, TaskQuery, TaskStore } from '../ports.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { FinishQueue } from './finish-queue.js';
import { taskJsonText } from '../../codec.js';

/**
 * In-process {@link TaskStore}. Terminal tasks are tracked in finish order so retention
 * can evict the oldest first without scanning; `onEvict` lets the owning state store drop
 * the task's events and push configs with it.
 */
export class MemoryTaskStore implements TaskStore {
  private readonly tasks = new Map<string, StoredTask>();
  /** Terminal tasks in the order they finished. */
  private readonly finished = new FinishQueue();
  /** What each terminal task weighs (see {@link weight}), and their sum. */
  private readonly weights = new Map<string, number>();
  private finishedBytes = 0;

  constructor(
    private readonly maxTerminalTasks: number,
    private readonly onEvict: (taskId: string) => void,
    private readonly maxTerminalBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Approximate bytes the terminal tasks kept now hold (snapshots and their events). */
  get terminalBytes(): number {
    return this.finishedBytes;
  }

  async create(record: Omit<StoredTask, 'version'>): Promise<StoredTask> {
    if (this.tasks.has(record.task.id)) {
      throw new AgentdError('TASK_CONFLICT', `Task ${record.task.id} already exists`, {
        taskId: record.task.id,
      });
    }
    const stored = storedTask(record, 1);
    this.tasks.set(record.task.id, stored);
    this.trackTerminal(stored);
    return stored;
  }

  async get(taskId: string): Promise<StoredTask | undefined> {
    return this.tasks.get(taskId);
  }

  async save(record: Omit<StoredTask, 'version'>, expectedVersion: number): Promise<StoredTask> {
    const current = this.tasks.get(record.task.id);
    if ((current?.version ?? 0) !== expectedVersion) {
      throw new AgentdError(
        'TASK_CONFLICT',
        `Task ${record.task.id} changed concurrently (expected version ${expectedVersion}, found ${current?.version ?? 'none'})`,
        { taskId: record.task.id },
      );
    }
    const stored = storedTask(record, expectedVersion + 1);
    this.tasks.set(record.task.id, stored);
    this.trackTerminal(stored);
    return stored;
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    const matching: StoredTask[] = [];
    for (const t of this.tasks.values()) {
      if (t.agent !== query.agent || t.tenant !== query.tenant) continue;
      if (query.owner !== undefined && (!t.owner || t.owner !== query.owner)) continue;
      if (query.contextId && t.task.contextId !== query.contextId) continue;
      if (query.state !== undefined && t.task.status?.state !== query.state) continue;
      if (query.updatedAfter !== undefined && t.updatedAt < query.updatedAfter) continue;
      matching.push(t);
    }
    matching.sort(byRecency);
    let start = 0;
    if (query.pageToken) {
      const cursor = decodeCursor(query.pageToken);
      start = matching.findIndex(
        (t) => byRecency(t, { updatedAt: cursor.updatedAt, task: { id: cursor.id } }) > 0,
      );
      if (start < 0) start = matching.length;
    }
    const tasks = matching.slice(start, start + query.pageSize);
    const last = tasks[tasks.length - 1];
    const more = start + query.pageSize < matching.length;
    return {
      tasks,
      nextPageToken: more && last ? encodeCursor(last.updatedAt, last.task.id) : '',
      totalSize: matching.length,
    };
  }

  async delete(taskId: string): Promise<void> {
    this.tasks.delete(taskId);
    this.forget(taskId);
  }

  /** Evicts terminal tasks that finished before `cutoff` (epoch ms). */
  evictFinishedBefore(cutoff: number): number {
    let evicted = 0;
    for (let oldest = this.finished.peek(); oldest && oldest.at < cutoff; oldest = this.finished.peek()) {
      this.evict(oldest.id);
      evicted++;
    }
    return evicted;
  }

  /** Every stored task now (a copy: the caller may await between items). */
  all(): StoredTask[] {
    return [...this.tasks.values()];
  }

  /**
   * Puts a restored record in place with its own version, unless a version at least as new
   * is stored and `force` is off; whether it was written. A finished task restarts its
   * retention clock.
   */
  restore(record: StoredTask, force: boolean): boolean {
    const current = this.tasks.get(record.task.id);
    if (current && !force && current.version >= record.version) return false;
    this.forget(record.task.id);
    const stored = storedTask(record, record.version);
    this.tasks.set(record.task.id, stored);
    this.trackTerminal(stored);
    return true;
  }

  /** Number of stored tasks (for retention tests). */
  size(): number {
    return this.tasks.size;
  }

  private trackTerminal(t: StoredTask): void {
    if (!isTerminal(t.task.status?.state) || this.finished.has(t.task.id)) return;
    this.finished.push(t.task.id, Date.now());
    const w = weight(t);
    this.weights.set(t.task.id, w);
    this.finishedBytes += w;
    // The task that just finished stays, whatever it weighs: its readers are still on it.
    while (
      this.finished.size > 1 &&
      (this.finished.size > this.maxTerminalTasks || this.finishedBytes > this.maxTerminalBytes)
    ) {
      const oldest = this.finished.shift();
      if (oldest === undefined) break;
      this.evict(oldest);
    }
  }

  private evict(taskId: string): void {
    this.tasks.delete(taskId);
    this.forget(taskId);
    this.onEvict(taskId);
  }

  private forget(taskId: string): void {
    this.finished.delete(taskId);
    this.finishedBytes -= this.weights.get(taskId) ?? 0;
    this.weights.delete(taskId);
  }
}

/**
 * What a finished task costs this process, approximately: its snapshot as JSON text (the
 * text is memoized, and its response reuses it), twice: once for the snapshot objects and
 * once for the events in its log, which carry the same artifacts and messages.
 */
function weight(t: StoredTask): number {
  return 2 * taskJsonText(t.task).length + 512;
}

/** A stored record built field by field (object spread here showed up in profiles). */
function storedTask(r: Omit<StoredTask, 'version'>, version: number): StoredTask {
  return {
    task: r.task,
    agent: r.agent,
    tenant: r.tenant,
    owner: r.owner,
    version,
    lastSeq: r.lastSeq,
    updatedAt: r.updatedAt,
  };
}

/** Most recently updated first; ties broken by id so pagination is stable. */
function byRecency(a: Pick<StoredTask, 'updatedAt'> & { task: { id: string } }, b: typeof a): number {
  if (a.updatedAt !== b.updatedAt) return b.updatedAt - a.updatedAt;
  return a.task.id < b.task.id ? 1 : a.task.id > b.task.id ? -1 : 0;
}
