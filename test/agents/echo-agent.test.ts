import { TaskState } from '@a2a-js/sdk';
import type { AgentExecutor } from '@a2a-js/sdk/server';
import { describe, expect, it } from 'vitest';
import { EchoAgent } from '../../src/agents/echo-agent.js';
import { RecordingEventBus, requestContext, userMessage } from './recording-event-bus.js';

describe('EchoAgent', () => {
  it('publishes WORKING, one artifact with the text, then COMPLETED, and finishes the bus', async () => {
    const bus = new RecordingEventBus();
    await new EchoAgent().execute(
      requestContext(userMessage('hello', { taskId: 't-9', contextId: 'c-9' })),
      bus,
    );

    expect(bus.events.map((e) => e.kind)).toEqual(['statusUpdate', 'artifactUpdate', 'statusUpdate']);
    expect(bus.statusStates).toEqual([TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_COMPLETED]);
    expect(bus.artifactUpdates).toHaveLength(1);
    const update = bus.artifactUpdates[0];
    expect(update).toMatchObject({ taskId: 't-9', contextId: 'c-9', append: false, lastChunk: true });
    expect(update?.artifact?.artifactId).toBe('echo');
    expect(update?.artifact?.parts.map((p) => p.content)).toEqual([{ $case: 'text', value: 'hello' }]);
    for (const e of bus.events) {
      if (e.kind === 'statusUpdate') {
        expect(e.data).toMatchObject({ taskId: 't-9', contextId: 'c-9' });
        expect(Number.isNaN(Date.parse(e.data.status?.timestamp ?? ''))).toBe(false);
      }
    }
    expect(bus.finishedCount).toBe(1);
  });

  it('joins several text parts with newlines', async () => {
    const bus = new RecordingEventBus();
    const message = userMessage('line one');
    message.parts.push({
      content: { $case: 'text', value: 'line two' },
      metadata: undefined,
      filename: '',
      mediaType: 'text/plain',
    });
    await new EchoAgent().execute(requestContext(message), bus);
    expect(bus.artifactUpdates[0]?.artifact?.parts.map((p) => p.content)).toEqual([
      { $case: 'text', value: 'line one\nline two' },
    ]);
  });

  it('echoes non-text parts as they came', async () => {
    const bus = new RecordingEventBus();
    const message = userMessage('ignored');
    message.parts = [
      {
        content: { $case: 'data', value: { answer: 42 } },
        metadata: undefined,
        filename: '',
        mediaType: 'application/json',
      },
      {
        content: { $case: 'url', value: 'https://example.com/f.png' },
        metadata: undefined,
        filename: 'f.png',
        mediaType: 'image/png',
      },
    ];
    await new EchoAgent().execute(requestContext(message), bus);
    expect(bus.artifactUpdates[0]?.artifact?.parts).toEqual(message.parts);
    expect(bus.statusStates.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('cancelTask is a harmless no-op', async () => {
    const agent: AgentExecutor = new EchoAgent();
    const bus = new RecordingEventBus();
    await expect(agent.cancelTask('whatever', bus)).resolves.toBeUndefined();
    expect(bus.events).toEqual([]);
  });
});
