import { isTerminal } from '../../engine/task-state.js';
import type { StoreBackup, TaskBackup } from '../ports.js';
import type { MemoryCheckpointStore } from './memory-checkpoint-store.js';
import type { MemoryEventLog } from './memory-event-log.js';
import type { MemoryPushConfigStore } from './memory-push-config-store.js';
import type { MemoryTaskStore } from './memory-task-store.js';
import type { MemoryWorkQueue } from './memory-work-queue.js';

/** The parts of the embedded store a backup reads and a restore writes. */
export interface MemoryBackupParts {
  readonly tasks: MemoryTaskStore;
  readonly events: MemoryEventLog;
  readonly pushConfigs: MemoryPushConfigStore;
  readonly checkpoints: MemoryCheckpointStore;
  readonly queue: MemoryWorkQueue;
}

/**
 * {@link StoreBackup} of the embedded store, served by a running server's admin endpoints
 * (the store lives in that process). A task's snapshot is read before its events, and a
 * commit appends events before it saves the snapshot, so the events cover the snapshot.
 */
export class MemoryBackup implements StoreBackup {
  constructor(private readonly parts: MemoryBackupParts) {}

  async *export(): AsyncGenerator<TaskBackup, void, undefined> {
    const { tasks, events, pushConfigs, checkpoints, queue } = this.parts;
    for (const listed of tasks.all()) {
      const id = listed.task.id;
      // Read again: the task may have changed or gone while earlier ones were written out.
      const record = await tasks.get(id);
      if (!record) continue;
      yield {
        record,
        events: await events.read(id, 0),
        pushConfigs: await pushConfigs.list(id),
        checkpoints: checkpoints.entries(id),
        work: isTerminal(record.task.status?.state) ? undefined : queue.entry(id),
      };
    }
  }

  async restore(b: TaskBackup, force: boolean): Promise<boolean> {
    const { tasks, events, pushConfigs, checkpoints, queue } = this.parts;
    const id = b.record.task.id;
    if (!tasks.restore(b.record, force)) return false;
    events.restore(id, b.events, b.record.lastSeq, isTerminal(b.record.task.status?.state));
    pushConfigs.deleteTask(id);
    for (const c of b.pushConfigs) await pushConfigs.put(c);
    checkpoints.deleteTask(id);
    for (const [step, json] of b.checkpoints) await checkpoints.put(id, step, json);
    // Queued again to run here, unless this server has it queued or running already.
    if (b.work && !isTerminal(b.record.task.status?.state) && !queue.entry(id))
      await queue.push(id, b.work.agent, b.work.payload, Number.POSITIVE_INFINITY);
    return true;
  }
}
