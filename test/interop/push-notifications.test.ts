import { StreamResponse, TaskState } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  TRANSPORTS,
  artifactText,
  asTask,
  chunkTexts,
  countTo,
  describeEvents,
  expectSdkError,
  firstTask,
  messageRequest,
  pushConfig,
  rejection,
  stateOf,
} from '../helpers/interop.js';
import { SuiteClients } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import {
  deadWebhookUrl,
  startWebhookReceiver,
  type WebhookReceiver,
  type WebhookRequest,
} from '../helpers/webhook-receiver.js';

/** The notification as the StreamResponse it must be. */
function decoded(request: WebhookRequest): StreamResponse {
  return StreamResponse.fromJSON(request.body);
}

function isCompleted(request: WebhookRequest): boolean {
  const p = decoded(request).payload;
  return p?.$case === 'statusUpdate' && p.value.status?.state === TaskState.TASK_STATE_COMPLETED;
}

/** Bodies delivered successfully (a retried notification counts once). */
function delivered(receiver: WebhookReceiver): StreamResponse[] {
  return receiver.requests.filter((r) => r.answered === 200).map(decoded);
}

describe.each(TRANSPORTS)('push notifications over %s', (transport) => {
  let t: TestServer;
  let countdown: Client;
  let echo: Client;
  const clients = new SuiteClients(transport);
  const receivers: WebhookReceiver[] = [];
  const receiver = async (...args: Parameters<typeof startWebhookReceiver>): Promise<WebhookReceiver> => {
    const r = await startWebhookReceiver(...args);
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    // The receivers listen on loopback, which webhooks may reach only when allowed.
    t = await startServer({ push: { baseDelayMs: 10, maxAttempts: 3, allow: ['127.0.0.0/8'] } });
    countdown = await clients.for(t.agentUrl('countdown'));
    echo = await clients.for(t.agentUrl('echo'));
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(async () => {
    clients.close();
    await t.close();
  });

  it('delivers every event of a task created with a push config, ending with COMPLETED, with its token and credentials', async () => {
    const hook = await receiver();
    const task = asTask(
      await countdown.sendMessage(
        messageRequest('count to 3', {
          returnImmediately: true,
          push: {
            url: hook.url,
            token: 'tok-123',
            authentication: { scheme: 'Bearer', credentials: 'secret' },
          },
        }),
      ),
    );

    await hook.waitFor(isCompleted);
    const bodies = hook.requests.map(decoded);
    expect(stateOf(bodies[bodies.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(bodies[0]?.payload?.$case).toBe('task');
    expect(chunkTexts(bodies)).toEqual(countTo(3));
    expect(describeEvents(bodies).filter((d) => d.startsWith('status:'))).toEqual([
      'status:TASK_STATE_WORKING',
      'status:TASK_STATE_WORKING',
      'status:TASK_STATE_WORKING',
      'status:TASK_STATE_COMPLETED',
    ]);
    for (const r of hook.requests) {
      expect(r.method).toBe('POST');
      expect(r.headers['content-type']).toMatch(/^application\/a2a\+json/);
      expect(r.headers['x-a2a-notification-token']).toBe('tok-123');
      expect(r.headers.authorization).toBe('Bearer secret');
      // Proto-JSON of a StreamResponse: exactly one of task / statusUpdate / artifactUpdate / message.
      expect(Object.keys(r.body as object)).toHaveLength(1);
      expect(['task', 'statusUpdate', 'artifactUpdate']).toContain(Object.keys(r.body as object)[0]);
    }
    for (const b of bodies) {
      const v = b.payload?.value as { id?: string; taskId?: string };
      expect(v.taskId ?? v.id).toBe(task.id);
    }

    // The config the task was created with is visible through the API.
    const configs = await countdown.listTaskPushNotificationConfig({
      tenant: '',
      taskId: task.id,
      pageSize: 0,
      pageToken: '',
    });
    expect(configs.configs).toHaveLength(1);
    // Its credentials are write-only: shown redacted.
    expect(configs.configs[0]).toMatchObject({ taskId: task.id, url: hook.url, token: '[redacted]' });
    expect(configs.configs[0]?.authentication).toMatchObject({ scheme: 'Bearer', credentials: '[redacted]' });
  });

  it('CreateTaskPushNotificationConfig on an existing task; Get, List and Delete work, and only the configs left are notified', async () => {
    const hook = await receiver();
    // The task waits for input, so the config is certainly in place before the rest runs.
    const task = asTask(await countdown.sendMessage(messageRequest('count to 4 and ask')));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(hook.requests).toHaveLength(0);

    const created = await countdown.createTaskPushNotificationConfig(
      pushConfig({
        taskId: task.id,
        id: 'cfg-1',
        url: hook.url,
        token: 'tok-created',
        authentication: { scheme: 'Bearer', credentials: 'secret' },
      }),
    );
    expect(created).toMatchObject({ taskId: task.id, id: 'cfg-1', url: hook.url, token: '[redacted]' });
    expect(created.authentication).toMatchObject({ scheme: 'Bearer' });

    const got = await countdown.getTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: 'cfg-1' });
    expect(got).toMatchObject({ taskId: task.id, id: 'cfg-1', url: hook.url, token: '[redacted]' });
    // A config created without an id gets one; deleting it leaves the other in place.
    const generated = await countdown.createTaskPushNotificationConfig(
      pushConfig({ taskId: task.id, url: `${hook.url}?second` }),
    );
    expect(generated.id).not.toBe('');
    const listed = await countdown.listTaskPushNotificationConfig({
      tenant: '',
      taskId: task.id,
      pageSize: 0,
      pageToken: '',
    });
    expect(listed.configs.map((c) => c.id).sort()).toEqual(['cfg-1', generated.id].sort());
    await countdown.deleteTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: generated.id });
    const afterFirstDelete = await countdown.listTaskPushNotificationConfig({
      tenant: '',
      taskId: task.id,
      pageSize: 0,
      pageToken: '',
    });
    expect(afterFirstDelete.configs.map((c) => c.id)).toEqual(['cfg-1']);
    const gone = await rejection(
      countdown.getTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: generated.id }),
    );
    expectSdkError(gone, transport, 'TASK_NOT_FOUND');

    const done = asTask(await countdown.sendMessage(messageRequest('go on', { taskId: task.id })));
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const last = await hook.waitFor(isCompleted);
    expect(last.headers['x-a2a-notification-token']).toBe('tok-created');
    expect(last.headers.authorization).toBe('Bearer secret');
    expect(last.headers['content-type']).toMatch(/^application\/a2a\+json/);
    expect(chunkTexts(hook.requests.map(decoded))).toEqual(countTo(4, 3));
    expect(stateOf(decoded(hook.requests[hook.requests.length - 1] as WebhookRequest))).toBe(
      TaskState.TASK_STATE_COMPLETED,
    );
    // Only the remaining config was notified.
    expect(hook.requests.every((r) => r.path === '/hook')).toBe(true);
    expect(hook.requests.every((r) => r.headers['x-a2a-notification-token'] === 'tok-created')).toBe(true);

    await countdown.deleteTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: 'cfg-1' });
    const afterDelete = await countdown.listTaskPushNotificationConfig({
      tenant: '',
      taskId: task.id,
      pageSize: 0,
      pageToken: '',
    });
    expect(afterDelete.configs).toEqual([]);
    const deleted = await rejection(
      countdown.getTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: 'cfg-1' }),
    );
    expectSdkError(deleted, transport, 'TASK_NOT_FOUND');
  });

  it('a config added to a running task receives the rest of its events', async () => {
    const hook = await receiver();
    const events: StreamResponse[] = [];
    let created = false;
    for await (const e of countdown.sendMessageStream(messageRequest('count to 6'))) {
      events.push(e);
      if (!created && e.payload?.$case === 'artifactUpdate') {
        // Five more 20 ms steps to go: the task is certainly still running.
        await countdown.createTaskPushNotificationConfig(
          pushConfig({ taskId: firstTask(events).id, url: hook.url }),
        );
        created = true;
      }
    }
    expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
    await hook.waitFor(isCompleted);
    const pushed = chunkTexts(hook.requests.map(decoded));
    expect(pushed.length).toBeGreaterThan(0);
    // Whatever it got is the tail of the count, in order, ending at 6.
    expect(pushed).toEqual(countTo(6).slice(6 - pushed.length));
  });

  it('canceling a task that waits for input notifies its webhook of CANCELED', async () => {
    const hook = await receiver();
    const task = asTask(
      await countdown.sendMessage(
        messageRequest('count to 4 and ask', { push: { url: hook.url, token: 'tok-cancel' } }),
      ),
    );
    expect(task.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    await hook.waitFor((r) => stateOf(decoded(r)) === TaskState.TASK_STATE_INPUT_REQUIRED);

    const canceled = await countdown.cancelTask({ tenant: '', id: task.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    const last = await hook.waitFor((r) => stateOf(decoded(r)) === TaskState.TASK_STATE_CANCELED);
    expect(last.headers['x-a2a-notification-token']).toBe('tok-cancel');
  });

  it('a config for an unknown task is TaskNotFound', async () => {
    const error = await rejection(
      countdown.createTaskPushNotificationConfig(
        pushConfig({ taskId: 'no-such-task', url: 'http://127.0.0.1:9/hook' }),
      ),
    );
    expectSdkError(error, transport, 'TASK_NOT_FOUND');
  });

  it('retries a webhook that fails: 500 twice, then 200, and every event still arrives', async () => {
    const hook = await receiver((n) => (n <= 2 ? 500 : 200));
    const task = asTask(
      await echo.sendMessage(messageRequest('push me', { push: { url: hook.url, token: 'tok-retry' } })),
    );
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);

    await hook.waitFor(isCompleted);
    expect(hook.requests.slice(0, 3).map((r) => r.answered)).toEqual([500, 500, 200]);
    // The three attempts carried the same notification: the task's first event.
    expect(new Set(hook.requests.slice(0, 3).map((r) => r.raw)).size).toBe(1);
    expect(decoded(hook.requests[0] as WebhookRequest).payload?.$case).toBe('task');

    const events = delivered(hook);
    expect(describeEvents(events)).toEqual([
      'task:TASK_STATE_SUBMITTED',
      'status:TASK_STATE_WORKING',
      'artifact:["push me"]',
      'status:TASK_STATE_COMPLETED',
    ]);
    expect(hook.requests.every((r) => r.headers['x-a2a-notification-token'] === 'tok-retry')).toBe(true);
  });

  it('a dead webhook never blocks the task, and the failure is logged after the retries', async () => {
    const url = await deadWebhookUrl();
    const task = asTask(await countdown.sendMessage(messageRequest('count to 3', { push: { url } })));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactText(task, 'count')).toBe('1\n2\n3\n');

    await eventually(
      () =>
        t.logs.some(
          (l) => l.msg === 'push notification delivery failed' && l.task_id === task.id && l.attempts === 3,
        ),
      5000,
      'the delivery failure to be logged',
    );
    // The server keeps serving.
    const next = asTask(await echo.sendMessage(messageRequest('still here')));
    expect(next.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('a webhook that never answers does not hold up the task either', async () => {
    const hook = await receiver(() => 'hang');
    const task = asTask(
      await countdown.sendMessage(messageRequest('count to 3', { push: { url: hook.url } })),
    );
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    // The first notification reached the webhook and is still waiting for its answer.
    await hook.waitFor(() => true);
    expect(hook.requests.every((r) => r.answered === 'hang')).toBe(true);
    const stored = await countdown.getTask({ tenant: '', id: task.id });
    expect(stored.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });
});
