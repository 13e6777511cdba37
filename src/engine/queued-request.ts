/**
 * What the work queue holds for a task, so any replica can run it: the agent, the tenant,
 * the caller, the request without its message (that is the task's last history entry), and
 * for a task whose first commit also creates it, the task itself.
 */
import { SendMessageRequest as SendMessageRequestCodec } from '@a2a-js/sdk';
import type { SendMessageRequest, Task } from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { taskJsonText } from '../codec.js';
import { principalOf } from '../security/principal.js';
import { principalRecord, type PrincipalRecord } from '../security/principal-record.js';
import type { HostedAgent } from './hosted-agent.js';

export interface QueuedRequest {
  readonly agent: string;
  readonly tenant: string;
  /** The principal that owns the task (absent: unowned), for a deferred create stored by another replica. */
  readonly owner?: string | undefined;
  /**
   * Who sent the message the task runs (absent: the open mode's anonymous caller, or a request
   * queued by a replica that did not record it), so the replica running it gives its agent
   * the same caller. For a follow-up this may be an admin rather than the owner.
   */
  readonly caller?: PrincipalRecord | undefined;
  /** The SendMessageRequest (proto JSON) without its message: that is the task's last history entry. */
  readonly request: unknown;
  readonly extensions: string[] | undefined;
  /** The message ledger's key for the message the task runs (see `messageKey`); none when off. */
  readonly messageKey: string | undefined;
  /** The new task (proto JSON) when its run stores it with its first events (a deferred create). */
  readonly task?: unknown;
}

/** The queue payload (JSON text) for a task of `agent` started by `params`. */
export function queuedPayload(
  agent: HostedAgent,
  params: SendMessageRequest,
  ctx: ServerCallContext,
  tenant: string,
  owner: string,
  messageKey: string | undefined,
  task?: Task,
): string {
  const caller = principalRecord(principalOf(ctx));
  const queued: Omit<QueuedRequest, 'task'> = {
    agent: agent.name,
    tenant,
    ...(owner ? { owner } : {}),
    ...(caller ? { caller } : {}),
    messageKey,
    // Most requests carry nothing but the message: no need to run the codec then.
    request:
      params.configuration || params.metadata
        ? SendMessageRequestCodec.toJSON({ ...params, message: undefined })
        : {},
    extensions: ctx.requestedExtensions ? [...ctx.requestedExtensions] : undefined,
  };
  const json = JSON.stringify(queued);
  // The task's text is the one its first event and snapshot reuse.
  return task ? `${json.slice(0, -1)},"task":${taskJsonText(task)}}` : json;
}
