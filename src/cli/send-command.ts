/**
 * `agentd send`: one message to an agent, the reply or the streamed events printed, through
 * the resilient caller (timeouts, retries; see send-caller.ts).
 */
import { Message, Role, StreamResponse, Task, TaskState } from '@a2a-js/sdk';
import { Option, type Command } from 'commander';
import { textMessage } from '../agents/parts.js';
import { authHeaders, credentialsFrom } from '../client/auth.js';
import { TRANSPORTS, type TransportName } from '../client/connect.js';
import type { AgentCaller } from '../engine/agent-caller.js';
import { isTerminal, stateLabel } from '../engine/task-state.js';
import { parseAgentUrl } from './agent-url.js';
import { clientOptions, type ClientArgs } from './client-options.js';
import { formatEvent, formatMessage, formatTask } from './format.js';
import { parseRetries, parseTimeout, sendCaller, type SendResilience } from './send-caller.js';

/** What the command needs of the CLI run it belongs to. */
export interface SendCli {
  out(line: string): void;
  fail(line: string): void;
  readonly env: NodeJS.ProcessEnv;
  /** The task did not complete: the command exits with an error. */
  failed(): void;
  /** A caller to close when the command ends. */
  track(caller: AgentCaller): void;
}

export function addSendCommand(program: Command, cli: SendCli): void {
  const sendCommand = program
    .command('send')
    .description('send a message to an agent and print the reply (or the streamed events)')
    .argument(
      '<url>',
      'agent card URL, or the agent base URL (e.g. http://localhost:8080/a2a/echo/; http:// may be left out)',
      parseAgentUrl,
    )
    .argument('<text>', 'message text')
    .option('-s, --stream', 'stream events as they arrive (SendStreamingMessage)')
    .addOption(
      new Option('-t, --transport <name>', 'transport to use')
        .choices(Object.keys(TRANSPORTS))
        .default('jsonrpc'),
    )
    .option('--task <id>', 'continue an existing task (e.g. one that asked for input)')
    .option('--context <id>', 'context id to group the message with earlier ones')
    .option('--no-wait', 'return as soon as the task is created (returnImmediately)')
    .option('--json', 'print raw A2A JSON (one object per line) instead of human-readable text')
    .option(
      '--timeout <seconds>',
      'how long one attempt may take (a stream: until its first event)',
      parseTimeout,
      30,
    )
    .option(
      '--retries <n>',
      'retry this often when the agent is unreachable, overloaded or slow (same message: it runs once)',
      parseRetries,
      2,
    );
  clientOptions(sendCommand).action(
    async (
      url: string,
      text: string,
      opts: {
        stream?: boolean;
        transport: TransportName;
        task?: string;
        context?: string;
        wait: boolean;
        json?: boolean;
      } & ClientArgs &
        SendResilience,
    ) => {
      const caller = await sendCaller(url, opts, cli.env);
      cli.track(caller);
      const message = textMessage(Role.ROLE_USER, text, {
        contextId: opts.context ?? '',
        taskId: opts.task ?? '',
      });
      const request = {
        tenant: '',
        message,
        configuration: {
          acceptedOutputModes: [],
          taskPushNotificationConfig: undefined,
          returnImmediately: !opts.wait,
        },
        metadata: undefined,
      };
      let finalState: TaskState | undefined;
      // Outbound credentials go to gRPC as call credentials only over TLS; the key a user
      // gives the CLI goes to the agent it names over plain gRPC too, as it does over HTTP.
      const credentials = credentialsFrom(opts, cli.env);
      const call = {
        transport: opts.transport,
        ...(opts.transport === 'grpc' && !url.startsWith('https:')
          ? { metadata: authHeaders(credentials) }
          : {}),
      };
      if (opts.stream) {
        for await (const event of caller.stream(url, request, call)) {
          cli.out(opts.json ? JSON.stringify(StreamResponse.toJSON(event)) : formatEvent(event));
          const p = event.payload;
          if (p?.$case === 'statusUpdate') finalState = p.value.status?.state;
          if (p?.$case === 'task') finalState = p.value.status?.state;
        }
      } else {
        const result = await caller.send(url, request, call);
        if ('messageId' in result) {
          cli.out(opts.json ? JSON.stringify(Message.toJSON(result)) : formatMessage(result));
        } else {
          finalState = result.status?.state;
          cli.out(opts.json ? JSON.stringify(Task.toJSON(result)) : formatTask(result));
        }
      }
      if (isTerminal(finalState) && finalState !== TaskState.TASK_STATE_COMPLETED) {
        cli.fail(`task ended ${stateLabel(finalState)}`);
        cli.failed();
      }
    },
  );
}
