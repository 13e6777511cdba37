// An A2A agent written for the official @a2a-js/sdk, with no agentd imports: agentd hosts
// it unchanged (agent kind `module` in agentd.yaml). It answers "Ada" with a completed task
// whose artifact `greeting` says "Hello, Ada!".
import { randomUUID } from 'node:crypto';
import { Role, TaskState } from '@a2a-js/sdk';
import { AgentEvent } from '@a2a-js/sdk/server';

const textPart = (text) => ({
  content: { $case: 'text', value: text },
  metadata: undefined,
  filename: '',
  mediaType: 'text/plain',
});

const status = (state, text) => ({
  state,
  timestamp: new Date().toISOString(),
  message: text
    ? {
        messageId: randomUUID(),
        role: Role.ROLE_AGENT,
        parts: [textPart(text)],
        contextId: '',
        taskId: '',
        extensions: [],
        metadata: undefined,
        referenceTaskIds: [],
      }
    : undefined,
});

export class GreeterExecutor {
  /** `options` comes from the agent's `options:` in the config. */
  constructor(options = {}) {
    this.greeting = options.greeting ?? 'Hello';
    this.canceled = new Set();
  }

  async execute(requestContext, eventBus) {
    const { taskId, contextId, userMessage, task } = requestContext;
    const said = userMessage.parts
      .map((p) => (p.content?.$case === 'text' ? p.content.value : ''))
      .join(' ')
      .trim();
    const name = said || 'world';
    if (!task) {
      eventBus.publish(
        AgentEvent.task({
          id: taskId,
          contextId,
          status: status(TaskState.TASK_STATE_SUBMITTED),
          artifacts: [],
          history: [userMessage],
          metadata: undefined,
        }),
      );
    }
    const update = (state, text) =>
      eventBus.publish(
        AgentEvent.statusUpdate({ taskId, contextId, status: status(state, text), metadata: undefined }),
      );
    update(TaskState.TASK_STATE_WORKING, `Greeting ${name}`);
    if (this.canceled.delete(taskId)) {
      update(TaskState.TASK_STATE_CANCELED);
      return;
    }
    eventBus.publish(
      AgentEvent.artifactUpdate({
        taskId,
        contextId,
        artifact: {
          artifactId: 'greeting',
          name: 'greeting',
          description: 'The greeting',
          parts: [textPart(`${this.greeting}, ${name}!`)],
          metadata: undefined,
          extensions: [],
        },
        append: false,
        lastChunk: true,
        metadata: undefined,
      }),
    );
    update(TaskState.TASK_STATE_COMPLETED, 'Greeted');
  }

  async cancelTask(taskId) {
    this.canceled.add(taskId);
  }
}
