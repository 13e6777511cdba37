/**
 * Type checks for v0.3 JSON-RPC params before they reach the SDK's compat layer, which
 * passes them on unchecked: a numeric `id` reached the engine as a number and came back as
 * -32603 "id.trim is not a function" (or, on `tasks/resubscribe`, as an HTTP 500). Here it
 * is -32602 naming the field, like every v1.0 rejection.
 */
import { invalidParams } from '../errors.js';

/** The task-id field each v0.3 task method requires. */
const ID_FIELD: ReadonlyMap<string, string> = new Map([
  ['tasks/get', 'id'],
  ['tasks/cancel', 'id'],
  ['tasks/resubscribe', 'id'],
  ['tasks/pushNotificationConfig/get', 'id'],
  ['tasks/pushNotificationConfig/list', 'id'],
  ['tasks/pushNotificationConfig/delete', 'id'],
  ['tasks/pushNotificationConfig/set', 'taskId'],
]);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(obj: Json, key: string, field = key): void {
  const value = obj[key];
  if (value !== undefined && typeof value !== 'string') throw invalidParams(field, 'must be a string');
}

function optionalObject(obj: Json, key: string, field = key): void {
  const value = obj[key];
  if (value !== undefined && !isObject(value)) throw invalidParams(field, 'must be a JSON object');
}

/** Throws INVALID_PARAMS naming the first field of `params` whose type is wrong for `method`. */
export function checkV03Params(method: string, params: Json): void {
  const idField = ID_FIELD.get(method);
  if (idField !== undefined) {
    const id = params[idField];
    if (typeof id !== 'string' || id === '') throw invalidParams(idField, 'must be a non-empty string');
  }
  optionalString(params, 'pushNotificationConfigId');
  const historyLength = params.historyLength;
  if (historyLength !== undefined && (!Number.isInteger(historyLength) || (historyLength as number) < 0))
    throw invalidParams('historyLength', 'must be a non-negative integer');
  optionalObject(params, 'metadata');
  if (method === 'tasks/pushNotificationConfig/set') optionalObject(params, 'pushNotificationConfig');
  if (method === 'message/send' || method === 'message/stream') {
    const message = params.message;
    if (!isObject(message)) throw invalidParams('message', 'must be a JSON object');
    for (const key of ['messageId', 'taskId', 'contextId', 'role', 'kind'])
      optionalString(message, key, `message.${key}`);
    if (message.parts !== undefined && !Array.isArray(message.parts))
      throw invalidParams('message.parts', 'must be an array');
    optionalObject(message, 'metadata', 'message.metadata');
    optionalObject(params, 'configuration');
  }
}
