/**
 * Declarative workflow agents (`kind: workflow`) on one server, embedded store: parallel
 * steps that join, the per-step stream, retries, onError, fallbacks, conditions, timeouts
 * that cancel the child, the human step, and the step metrics.
 */
import { TaskState, type StreamResponse, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFor, sendRequest } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { artifactText, effectsAgent, statusText } from '../helpers/workflow.js';

describe('workflow agents', () => {
  let dir: string;
  let effects: string;
  let server: TestServer;
  const lines = (): string[] => readFileSync(effects, 'utf8').split('\n').filter(Boolean);
  const client = (name: string): Promise<Client> => clientFor(server.agentUrl(name));
  const effectAgent = (name: string, delayMs: number) => effectsAgent(effects, delayMs, name);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentd-workflow-'));
    effects = join(dir, 'effects.log');
    writeFileSync(effects, '');
    server = await startServer({
      agents: [
        { name: 'echo', kind: 'echo', default: true },
        effectAgent('effects', 10),
        effectAgent('sluggish', 200),
        { name: 'ledger-a', kind: 'echo', skills: [{ id: 'ledger-a', name: 'Ledger A', tags: ['ledger'] }] },
        { ...effectAgent('ledger-b', 0), skills: [{ id: 'ledger-b', name: 'Ledger B', tags: ['ledger'] }] },
        {
          name: 'relaying',
          kind: 'workflow',
          relayArtifacts: true,
          steps: [
            { id: 'left', agent: 'effects', input: 'L {{ input }}' },
            { id: 'right', agent: 'echo', input: 'R {{ input }}' },
          ],
        },
        {
          name: 'bookkeeping',
          kind: 'workflow',
          steps: [{ id: 'book', capability: 'ledger', input: 'book {{ input }}' }],
        },
        {
          name: 'research',
          kind: 'workflow',
          steps: [
            { id: 'left', agent: 'effects', input: 'left {{ input }}' },
            { id: 'right', agent: 'echo', input: 'right {{ input }}' },
            {
              id: 'join',
              agent: 'effects',
              needs: ['left', 'right'],
              input: '{{ steps.left.output }} + {{ steps.right.output }}',
            },
          ],
        },
        {
          name: 'careful',
          kind: 'workflow',
          steps: [
            {
              id: 'flaky',
              agent: 'effects',
              input: 'fail {{ input }}',
              retry: { attempts: 3, backoffMs: 5 },
            },
          ],
        },
        {
          name: 'tolerant',
          kind: 'workflow',
          steps: [
            { id: 'try', agent: 'effects', input: 'fail once', onError: 'continue' },
            { id: 'plan-b', agent: 'effects', input: 'fail twice', onError: { fallback: 'rescue' } },
            { id: 'rescue', agent: 'echo', input: 'rescued: {{ steps.plan-b.error }}' },
            {
              id: 'report',
              agent: 'echo',
              needs: ['try', 'plan-b'],
              input: 'try={{ steps.try.status }} plan-b={{ steps.plan-b.output }}',
            },
            { id: 'never', agent: 'effects', needs: ['try'], if: 'steps.try.status == "completed"' },
          ],
          output: '{{ steps.report.output }} never={{ steps.never.status }}',
        },
        {
          name: 'impatient',
          kind: 'workflow',
          steps: [{ id: 'wait', agent: 'sluggish', input: 'slow {{ input }}', timeoutSeconds: 1 }],
        },
        {
          name: 'asking',
          kind: 'workflow',
          steps: [
            { id: 'draft', agent: 'echo', input: 'draft about {{ input }}' },
            { id: 'approve', ask: 'Publish "{{ steps.draft.output }}"?', needs: ['draft'] },
            {
              id: 'publish',
              agent: 'effects',
              needs: ['approve'],
              input: 'publish {{ steps.approve.output }}',
            },
          ],
        },
      ],
    });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs independent steps in parallel, joins them, and streams a status per step start and end', async () => {
    const research = await client('research');
    const events: StreamResponse[] = [];
    for await (const e of research.sendMessageStream(sendRequest('cats'))) events.push(e);
    const steps = events
      .map((e) =>
        e.payload?.$case === 'statusUpdate' ? e.payload.value.metadata?.['agentd.workflow.step'] : undefined,
      )
      .filter((m): m is Record<string, unknown> => m !== undefined);
    const phases = steps.map((m) => `${String(m.id)}:${String(m.phase)}`);
    // left and right both start before either ends; join starts after both completed.
    expect(phases.indexOf('right:started')).toBeLessThan(phases.indexOf('left:completed'));
    expect(phases.indexOf('left:started')).toBeLessThan(phases.indexOf('right:completed'));
    expect(phases.indexOf('join:started')).toBeGreaterThan(phases.indexOf('left:completed'));
    expect(phases.indexOf('join:started')).toBeGreaterThan(phases.indexOf('right:completed'));
    expect(steps.find((m) => m.id === 'left' && m.phase === 'started')).toMatchObject({
      target: 'effects',
      attempt: 1,
    });
    const last = events.at(-1)?.payload;
    expect(last?.$case === 'statusUpdate' && last.value.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const task = await research.getTask({
      tenant: '',
      id: last?.$case === 'statusUpdate' ? last.value.taskId : '',
    });
    expect(artifactText(task)).toBe('left cats! + right cats!');
    expect(task.artifacts).toHaveLength(1);
  });

  it('relays the children’s artifacts when relayArtifacts is on, ids prefixed with the step', async () => {
    const task = (await (await client('relaying')).sendMessage(sendRequest('r'))) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const byId = Object.fromEntries(
      task.artifacts.map((a) => [
        a.artifactId,
        a.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join(''),
      ]),
    );
    expect(byId).toEqual({ 'left/out': 'L r!', 'right/echo': 'R r', result: 'L r!\n\nR r' });
  });

  it('retries a failing step with a new message each attempt, then fails naming the step', async () => {
    const task = (await (await client('careful')).sendMessage(sendRequest('x'))) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(statusText(task)).toBe('Step "flaky" failed: could not do fail x');
    expect(lines().filter((l) => l.startsWith('start fail x ')).length).toBe(3);
  });

  it('continues past a failure, uses a fallback, and skips a step whose condition is false', async () => {
    const task = (await (await client('tolerant')).sendMessage(sendRequest('go'))) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactText(task)).toBe('try=failed plan-b=rescued: could not do fail twice never=skipped');
  });

  it('gives up on a step after timeoutSeconds and cancels its child', async () => {
    const task = (await (await client('impatient')).sendMessage(sendRequest('t'))) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(statusText(task)).toMatch(/^Step "wait" failed: Agent "sluggish" did not finish within 1 s/);
    const deadline = Date.now() + 5000;
    while (!lines().includes('canceled slow t')) {
      if (Date.now() > deadline) throw new Error('the timed-out child was not canceled');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(lines()).not.toContain('effect slow t');
  });

  it('asks the user in a human step and resumes with the answer', async () => {
    const asking = await client('asking');
    const asked = (await asking.sendMessage(sendRequest('dogs'))) as Task;
    expect(asked.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(statusText(asked)).toBe('Publish "draft about dogs"?');
    const done = (await asking.sendMessage(
      sendRequest('yes', { taskId: asked.id, contextId: asked.contextId }),
    )) as Task;
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactText(done)).toBe('publish yes!');
  });

  it('finds a step’s agent by capability, taking turns among the agents that have it', async () => {
    const bookkeeping = await client('bookkeeping');
    const outputs = [];
    for (const n of [1, 2, 3, 4])
      outputs.push(artifactText((await bookkeeping.sendMessage(sendRequest(`#${n}`))) as Task));
    // ledger-a (echo) and ledger-b (adds "!") alternate.
    expect(outputs.map((o) => o.endsWith('!'))).toEqual([
      outputs[0]!.endsWith('!'),
      !outputs[0]!.endsWith('!'),
      outputs[0]!.endsWith('!'),
      !outputs[0]!.endsWith('!'),
    ]);
    expect(outputs.map((o) => o.replace(/!$/, ''))).toEqual(['book #1', 'book #2', 'book #3', 'book #4']);
  });

  it('counts steps by workflow, step and outcome', async () => {
    const text = await (await fetch(`http://${server.server.metricsAddress}/metrics`)).text();
    expect(text).toMatch(
      /agentd_workflow_steps_total\{workflow="research",step="join",status="completed"\} [1-9]/,
    );
    expect(text).toMatch(
      /agentd_workflow_steps_total\{workflow="tolerant",step="never",status="skipped"\} 1/,
    );
    expect(text).toMatch(/workflow_executions_total\{workflow_type="research",status="completed"\} [1-9]/);
    expect(text).toMatch(/agentd_workflow_step_duration_seconds_count\{workflow="careful",step="flaky"\} 1/);
  });
});
