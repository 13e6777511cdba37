import { TaskState, type Task } from '@a2a-js/sdk';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeWorkDir, spawnAgentd, stopStarted } from '../helpers/agentd-process.js';
import { clientFor, sendRequest } from '../helpers/sdk-client.js';

const EXAMPLE_CONFIG = resolve(import.meta.dirname, '../../examples/greeter/agentd.yaml');

let base: string;

beforeAll(async () => {
  // The example's own YAML, as docs/agents.md runs it; free ports instead of 8080/8081/9090.
  const agentd = spawnAgentd(['serve', '--config', EXAMPLE_CONFIG, '--port', '0', '--grpc-port', '0'], {
    METRICS_PORT: '0',
  });
  base = await agentd.url;
});
afterAll(() => {
  stopStarted();
  removeWorkDir();
});

describe('the greeter example agent (examples/greeter)', () => {
  it('answers a name with a completed task whose artifact greets it', async () => {
    const client = await clientFor(`${base}/a2a/greeter/`);
    const result = await client.sendMessage(sendRequest('Ada'));
    const task = result as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(task.artifacts).toHaveLength(1);
    expect(task.artifacts[0]?.name).toBe('greeting');
    const part = task.artifacts[0]?.parts[0]?.content;
    expect(part).toEqual({ $case: 'text', value: 'Hello, Ada!' });
  });

  it('publishes the card from the YAML: name, description and skill', async () => {
    const card = (await (await fetch(`${base}/a2a/greeter/.well-known/agent-card.json`)).json()) as {
      name: string;
      description: string;
      skills: Array<{ id: string; examples: string[] }>;
    };
    expect(card.name).toBe('greeter');
    expect(card.description).toBe('Greets whoever you name.');
    expect(card.skills.map((s) => s.id)).toEqual(['greet']);
  });
});
