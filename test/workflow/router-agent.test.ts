/**
 * Router agents (`kind: router`): keyword rules, skill matching, the fallback, and a model
 * choosing from the candidates' cards (a scripted OpenAI-compatible server on loopback);
 * the choice is in the task's metadata and in `agentd_router_routes_total`.
 */
import { TaskState, type Task } from '@a2a-js/sdk';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../helpers/fake-openai.js';
import { clientFor, sendRequest } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { artifactText } from '../helpers/workflow.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures');

describe('router agents', () => {
  let dir: string;
  let server: TestServer;
  let model: FakeOpenAi;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentd-router-'));
    const effects = join(dir, 'effects.log');
    writeFileSync(effects, '');
    model = await startFakeOpenAi('router-key');
    server = await startServer({
      agents: [
        { name: 'echo', kind: 'echo', default: true },
        {
          name: 'effects',
          kind: 'module',
          module: join(FIXTURES, 'effect-agent.mjs'),
          export: 'EffectAgent',
          options: { sideEffects: effects },
          skills: [{ id: 'ledger-writer', name: 'Ledger writer', tags: ['ledger', 'bookkeeping'] }],
        },
        {
          name: 'front',
          kind: 'router',
          routes: [{ keywords: ['effect', 'side effect'], agent: 'effects' }],
          candidates: ['effects'],
          fallback: 'echo',
        },
        // A loop: the router falls back to a workflow whose step is the router.
        { name: 'loop-router', kind: 'router', candidates: [], fallback: 'loop-flow' },
        { name: 'loop-flow', kind: 'workflow', steps: [{ id: 'again', agent: 'loop-router' }] },
        {
          name: 'smart',
          kind: 'router',
          candidates: ['echo', 'effects'],
          llm: { baseUrl: model.baseUrl, model: 'router-model', apiKey: 'router-key' },
        },
      ],
    });
  });

  afterAll(async () => {
    await server?.close();
    await model?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = async (router: string, text: string): Promise<Task> =>
    (await (await clientFor(server.agentUrl(router))).sendMessage(sendRequest(text))) as Task;

  it('follows a keyword rule, returns the chosen agent’s result and records the choice', async () => {
    const task = await send('front', 'run the effect now');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactText(task)).toBe('run the effect now!');
    expect(task.metadata?.['agentd.router']).toMatchObject({ target: 'effects', reason: 'rule' });
  });

  it('matches skills when no rule does, and falls back when nothing matches', async () => {
    const bySkill = await send('front', 'please update the ledger');
    expect(bySkill.metadata?.['agentd.router']).toMatchObject({ target: 'effects', reason: 'skills' });
    expect(artifactText(bySkill)).toBe('please update the ledger!');
    const fallback = await send('front', 'hello there');
    expect(fallback.metadata?.['agentd.router']).toMatchObject({ target: 'echo', reason: 'fallback' });
    expect(artifactText(fallback)).toBe('hello there');
  });

  it('lets a model choose from the candidates’ cards', async () => {
    model.reset(() => ({ text: ['effe', 'cts'] }));
    const task = await send('smart', 'something only the model understands');
    expect(task.metadata?.['agentd.router']).toMatchObject({ target: 'effects', reason: 'llm' });
    expect(artifactText(task)).toBe('something only the model understands!');
    const prompt = model.requests[0]?.body.messages.map((m) => m.content).join('\n') ?? '';
    expect(prompt).toContain('Ledger writer');
    expect(prompt).toContain('echo');
    // A model naming no candidate: the skills decide (nothing matches here, and there is no fallback).
    model.reset(() => ({ text: ['nobody'] }));
    const unmatched = await send('smart', 'zzz');
    expect(unmatched.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(unmatched.metadata?.['agentd.router']).toMatchObject({ reason: 'none' });
  });

  it('ends a loop between agents at the call depth limit instead of filling the server', async () => {
    const task = await send('loop-router', 'round and round');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    const text = task.status?.message?.parts[0]?.content;
    expect(text?.$case === 'text' && text.value).toMatch(/8 calls deep/);
    const flows = await (
      await clientFor(server.agentUrl('loop-flow'))
    ).listTasks({
      tenant: '',
      contextId: '',
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageSize: 100,
      pageToken: '',
      historyLength: 0,
      statusTimestampAfter: undefined,
      includeArtifacts: false,
    });
    // Router, workflow, router, ...: four workflow tasks in a chain eight calls deep.
    expect(flows.tasks).toHaveLength(4);
  });

  it('counts the choices', async () => {
    const text = await (await fetch(`http://${server.server.metricsAddress}/metrics`)).text();
    expect(text).toMatch(/agentd_router_routes_total\{router="front",target="effects",reason="rule"\} 1/);
    expect(text).toMatch(/agentd_router_routes_total\{router="smart",target="effects",reason="llm"\} 1/);
    expect(text).toMatch(/agentd_router_routes_total\{router="front",target="echo",reason="fallback"\} 1/);
  });
});
