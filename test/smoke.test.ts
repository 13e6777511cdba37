import { TaskState } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFor, sendRequest } from './helpers/sdk-client.js';
import { startServer, type TestServer } from './helpers/server.js';

describe('echo over JSON-RPC with the official SDK client', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(() => t.close());

  it('completes the task and echoes the text as an artifact', async () => {
    const client = await clientFor(t.agentUrl('echo'));
    const result = await client.sendMessage(sendRequest('hello'));
    expect('id' in result && result.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    if (!('artifacts' in result)) throw new Error('expected a task');
    expect(result.artifacts[0]?.parts[0]?.content).toEqual({ $case: 'text', value: 'hello' });
  });
});
