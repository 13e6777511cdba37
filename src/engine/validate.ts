/**
 * Validation of decoded A2A requests, shared by every transport: the wire adapters decode
 * with the SDK's `fromJSON` (which is lenient and fills defaults), and these checks turn
 * what is missing or out of range into INVALID_PARAMS errors that name the field.
 */
import { Role, TaskState } from '@a2a-js/sdk';
import type { ListTasksRequest, SendMessageRequest, TaskPushNotificationConfig } from '@a2a-js/sdk';
import { invalidParams } from '../errors.js';
import type { Message } from '@a2a-js/sdk';
import { jsonValueProblem } from './agent-events.js';

/** Default and maximum ListTasks page sizes (A2A §3.1.4). */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 100;

/** Longest id (task, context, message, push config) a request may carry. */
export const MAX_ID_LENGTH = 1024;

/**
 * Checks a SendMessage / SendStreamingMessage request; returns its message. Free-form
 * values (metadata, data parts) may nest at most `maxDepth` levels: anything deeper is
 * refused here, before it is stored, so no stored task is one that cannot be encoded.
 */
export function validateSendMessage(req: SendMessageRequest, maxDepth: number): Message {
  const message = req.message;
  if (!message) throw invalidParams('message', 'is required');
  if (!message.messageId) throw invalidParams('message.messageId', 'is required');
  validateLength(message.messageId, 'message.messageId');
  if (message.taskId) validateLength(message.taskId, 'message.taskId');
  if (message.contextId) validateLength(message.contextId, 'message.contextId');
  if (message.role === Role.UNRECOGNIZED)
    throw invalidParams('message.role', 'must be ROLE_USER or ROLE_AGENT');
  if (message.parts.length === 0) throw invalidParams('message.parts', 'must contain at least one part');
  message.parts.forEach((part, i) => {
    if (!part.content) throw invalidParams(`message.parts[${i}]`, 'must have one of text, raw, url or data');
    if (part.content.$case === 'data') validateJson(part.content.value, `message.parts[${i}].data`, maxDepth);
    validateJson(part.metadata, `message.parts[${i}].metadata`, maxDepth);
  });
  validateJson(message.metadata, 'message.metadata', maxDepth);
  validateJson(req.metadata, 'metadata', maxDepth);
  const config = req.configuration;
  if (config) {
    validateHistoryLength(config.historyLength, 'configuration.historyLength');
    if (config.taskPushNotificationConfig) {
      validateWebhookUrl(
        config.taskPushNotificationConfig.url,
        'configuration.taskPushNotificationConfig.url',
      );
    }
  }
  return message;
}

/** A task id must be a non-blank string of at most {@link MAX_ID_LENGTH} characters. */
export function validateTaskId(id: string, field = 'id'): string {
  // typeof: the v0.3 compat layer passes JSON values on unchecked.
  if (typeof id !== 'string' || !id.trim()) throw invalidParams(field, 'is required');
  validateLength(id, field);
  return id;
}

function validateLength(value: string, field: string): void {
  if (value.length > MAX_ID_LENGTH)
    throw invalidParams(field, `is ${value.length} characters long; at most ${MAX_ID_LENGTH} are allowed`);
}

function validateJson(value: unknown, field: string, maxDepth: number): void {
  if (value === undefined) return;
  const problem = jsonValueProblem(value, field, maxDepth);
  if (!problem) return;
  // "message.metadata.a.b is nested ..." → "message.metadata: is nested ... (at .a.b)", the path kept short.
  const space = problem.indexOf(' ');
  const path = problem.slice(0, space);
  const below = path.startsWith(field) ? path.slice(field.length) : '';
  const at = below.length > 80 ? `${below.slice(0, 40)}…${below.slice(-30)}` : below;
  throw invalidParams(field, `${problem.slice(space + 1)}${at ? ` (at ${at})` : ''}`);
}

/** `historyLength`, when given, is a non-negative integer. */
export function validateHistoryLength(value: number | undefined, field = 'historyLength'): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 0) throw invalidParams(field, 'must be a non-negative integer');
}

/** Normalised ListTasks filters; throws on anything out of range. */
export function validateListTasks(req: ListTasksRequest): {
  pageSize: number;
  state: TaskState | undefined;
  updatedAfter: number | undefined;
} {
  const pageSize = req.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw invalidParams('pageSize', `must be an integer between 1 and ${MAX_PAGE_SIZE}`);
  }
  if (req.status === TaskState.UNRECOGNIZED) throw invalidParams('status', 'is not a known TaskState');
  validateHistoryLength(req.historyLength);
  let updatedAfter: number | undefined;
  if (req.statusTimestampAfter) {
    updatedAfter = Date.parse(req.statusTimestampAfter);
    if (Number.isNaN(updatedAfter))
      throw invalidParams('statusTimestampAfter', 'must be an ISO 8601 timestamp');
  }
  return {
    pageSize,
    state: req.status === TaskState.TASK_STATE_UNSPECIFIED ? undefined : req.status,
    updatedAfter,
  };
}

/** A push config needs a task id and an http(s) webhook URL. */
export function validatePushConfig(config: TaskPushNotificationConfig): void {
  validateTaskId(config.taskId, 'taskId');
  validateWebhookUrl(config.url, 'url');
}

function validateWebhookUrl(url: string, field: string): void {
  if (!url) throw invalidParams(field, 'is required');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidParams(field, 'is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw invalidParams(field, 'must be http or https');
}
