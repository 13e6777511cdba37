/** Running `agentd backup` / `agentd restore` in process, and comparing what a store holds. */
import { PassThrough, Readable } from 'node:stream';
import { StreamResponse, TaskPushNotificationConfig } from '@a2a-js/sdk';
import { runCli } from '../../src/cli/main.js';
import { taskJson } from '../../src/codec.js';
import type { StoreBackup } from '../../src/store/ports.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the agentd CLI with these arguments, capturing its output; `stdin` is what it reads there. */
export async function agentdCli(args: string[], env: NodeJS.ProcessEnv = {}, stdin = ''): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (c: Buffer) => out.push(c.toString('utf8')));
  stderr.on('data', (c: Buffer) => err.push(c.toString('utf8')));
  const code = await runCli(args, { stdout, stderr, env, stdin: Readable.from([stdin]) });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** Everything a store holds for its tasks, as plain JSON sorted by task id (for toEqual). */
export async function storeContents(store: StoreBackup): Promise<Array<Record<string, unknown>>> {
  const all: Array<Record<string, unknown>> = [];
  for await (const b of store.export()) {
    all.push({
      id: b.record.task.id,
      agent: b.record.agent,
      tenant: b.record.tenant,
      owner: b.record.owner,
      version: b.record.version,
      lastSeq: b.record.lastSeq,
      updatedAt: b.record.updatedAt,
      task: taskJson(b.record.task),
      events: b.events.map((e) => ({ seq: e.seq, event: StreamResponse.toJSON(e.event) })),
      pushConfigs: b.pushConfigs
        .map((c) => TaskPushNotificationConfig.toJSON(c) as Record<string, unknown>)
        .sort((x, y) => String(x.id).localeCompare(String(y.id))),
      checkpoints: [...b.checkpoints].sort((x, y) => x[0].localeCompare(y[0])),
    });
  }
  return all.sort((a, b) => String(a.id).localeCompare(String(b.id)));
}
