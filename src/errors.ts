/**
 * The one error catalogue. Every error agentd raises on purpose comes from here, with a
 * stable string code and its representation on every transport: the JSON-RPC error code,
 * the HTTP status and `google.rpc.Status` name, the gRPC status code, and the
 * `google.rpc.ErrorInfo` reason (domain `a2a-protocol.org`). Transports translate; the
 * engine throws catalogue errors only. Callers match on `code`, never on message text.
 */
import { A2AError } from '@a2a-js/sdk/errors';

/** gRPC status codes (numeric values from `google.rpc.Code`). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusName = keyof typeof GrpcStatus;

interface ErrorSpec {
  /** JSON-RPC 2.0 error code (A2A §5.4 for protocol errors, -320xx for ours). */
  readonly jsonRpc: number;
  /** HTTP status for the HTTP+JSON binding (and for transport-level failures). */
  readonly http: number;
  /** gRPC status name; also the `google.rpc.Status.status` string on REST. */
  readonly grpc: GrpcStatusName;
  /** `google.rpc.ErrorInfo.reason`. */
  readonly reason: string;
  /** The SDK's semantic error name, so its v0.3 compat layer maps us correctly. */
  readonly sdkName?: string;
  /** Whether a client may retry the same request later and expect it to work. */
  readonly retryable?: boolean;
  readonly defaultMessage: string;
}

/** Every error code agentd can put on the wire. Stable: add, never rename. */
export const ERROR_CATALOGUE = {
  PARSE_ERROR: {
    jsonRpc: -32700,
    http: 400,
    grpc: 'INVALID_ARGUMENT',
    reason: 'PARSE_ERROR',
    defaultMessage: 'Request body is not valid JSON',
  },
  INVALID_REQUEST: {
    jsonRpc: -32600,
    http: 400,
    grpc: 'INVALID_ARGUMENT',
    reason: 'INVALID_REQUEST',
    defaultMessage: 'Not a valid JSON-RPC 2.0 request',
  },
  METHOD_NOT_FOUND: {
    jsonRpc: -32601,
    http: 404,
    grpc: 'UNIMPLEMENTED',
    reason: 'METHOD_NOT_FOUND',
    defaultMessage: 'Method not found',
  },
  INVALID_PARAMS: {
    jsonRpc: -32602,
    http: 400,
    grpc: 'INVALID_ARGUMENT',
    reason: 'INVALID_PARAMS',
    sdkName: 'RequestMalformedError',
    defaultMessage: 'Invalid parameters',
  },
  INTERNAL: {
    jsonRpc: -32603,
    http: 500,
    grpc: 'INTERNAL',
    reason: 'INTERNAL_ERROR',
    defaultMessage: 'Internal error',
  },
  TASK_NOT_FOUND: {
    jsonRpc: -32001,
    http: 404,
    grpc: 'NOT_FOUND',
    reason: 'TASK_NOT_FOUND',
    sdkName: 'TaskNotFoundError',
    defaultMessage: 'Task not found',
  },
  TASK_NOT_CANCELABLE: {
    jsonRpc: -32002,
    http: 400,
    grpc: 'FAILED_PRECONDITION',
    reason: 'TASK_NOT_CANCELABLE',
    sdkName: 'TaskNotCancelableError',
    defaultMessage: 'Task cannot be canceled',
  },
  PUSH_NOTIFICATION_NOT_SUPPORTED: {
    jsonRpc: -32003,
    http: 400,
    grpc: 'FAILED_PRECONDITION',
    reason: 'PUSH_NOTIFICATION_NOT_SUPPORTED',
    sdkName: 'PushNotificationNotSupportedError',
    defaultMessage: 'Push notifications are not supported by this agent',
  },
  UNSUPPORTED_OPERATION: {
    jsonRpc: -32004,
    http: 400,
    grpc: 'FAILED_PRECONDITION',
    reason: 'UNSUPPORTED_OPERATION',
    sdkName: 'UnsupportedOperationError',
    defaultMessage: 'This operation is not supported',
  },
  CONTENT_TYPE_NOT_SUPPORTED: {
    jsonRpc: -32005,
    http: 400,
    grpc: 'INVALID_ARGUMENT',
    reason: 'CONTENT_TYPE_NOT_SUPPORTED',
    sdkName: 'ContentTypeNotSupportedError',
    defaultMessage: 'Content type not supported',
  },
  INVALID_AGENT_RESPONSE: {
    jsonRpc: -32006,
    http: 500,
    grpc: 'INTERNAL',
    reason: 'INVALID_AGENT_RESPONSE',
    sdkName: 'InvalidAgentResponseError',
    defaultMessage: 'The agent produced an invalid response',
  },
  EXTENDED_AGENT_CARD_NOT_CONFIGURED: {
    jsonRpc: -32007,
    http: 400,
    grpc: 'FAILED_PRECONDITION',
    reason: 'EXTENDED_AGENT_CARD_NOT_CONFIGURED',
    sdkName: 'ExtendedAgentCardNotConfiguredError',
    defaultMessage: 'This agent has no extended agent card',
  },
  EXTENSION_SUPPORT_REQUIRED: {
    jsonRpc: -32008,
    http: 400,
    grpc: 'FAILED_PRECONDITION',
    reason: 'EXTENSION_SUPPORT_REQUIRED',
    sdkName: 'ExtensionSupportRequiredError',
    defaultMessage: 'Extension support required',
  },
  VERSION_NOT_SUPPORTED: {
    jsonRpc: -32009,
    http: 400,
    grpc: 'FAILED_PRECONDITION',
    reason: 'VERSION_NOT_SUPPORTED',
    sdkName: 'VersionNotSupportedError',
    defaultMessage: 'Protocol version not supported',
  },
  AGENT_NOT_FOUND: {
    jsonRpc: -32050,
    http: 404,
    grpc: 'NOT_FOUND',
    reason: 'AGENT_NOT_FOUND',
    defaultMessage: 'No such agent on this server',
  },
  ROUTE_NOT_FOUND: {
    jsonRpc: -32601,
    http: 404,
    grpc: 'UNIMPLEMENTED',
    reason: 'ROUTE_NOT_FOUND',
    defaultMessage: 'No such endpoint',
  },
  PAYLOAD_TOO_LARGE: {
    jsonRpc: -32600,
    http: 413,
    grpc: 'RESOURCE_EXHAUSTED',
    reason: 'PAYLOAD_TOO_LARGE',
    defaultMessage: 'Request body is larger than the configured limit',
  },
  URI_TOO_LONG: {
    jsonRpc: -32600,
    http: 414,
    grpc: 'RESOURCE_EXHAUSTED',
    reason: 'URI_TOO_LONG',
    defaultMessage: 'The request URI is longer than this server accepts',
  },
  HEADERS_TOO_LARGE: {
    jsonRpc: -32600,
    http: 431,
    grpc: 'RESOURCE_EXHAUSTED',
    reason: 'HEADERS_TOO_LARGE',
    defaultMessage: 'The request headers are larger than this server accepts',
  },
  REQUEST_TIMEOUT: {
    jsonRpc: -32600,
    http: 408,
    grpc: 'DEADLINE_EXCEEDED',
    reason: 'REQUEST_TIMEOUT',
    retryable: true,
    defaultMessage: 'The request was not received in time',
  },
  QUEUE_FULL: {
    jsonRpc: -32051,
    http: 503,
    grpc: 'RESOURCE_EXHAUSTED',
    reason: 'QUEUE_FULL',
    retryable: true,
    defaultMessage: 'All workers are busy and the queue is full; retry later',
  },
  SHUTTING_DOWN: {
    jsonRpc: -32052,
    http: 503,
    grpc: 'UNAVAILABLE',
    reason: 'SHUTTING_DOWN',
    retryable: true,
    defaultMessage: 'This server is shutting down; retry on another replica',
  },
  STORE_UNAVAILABLE: {
    jsonRpc: -32053,
    http: 503,
    grpc: 'UNAVAILABLE',
    reason: 'STORE_UNAVAILABLE',
    retryable: true,
    defaultMessage: 'The state store is unavailable; retry later',
  },
  TASK_CONFLICT: {
    jsonRpc: -32054,
    http: 409,
    grpc: 'ABORTED',
    reason: 'TASK_CONFLICT',
    retryable: true,
    defaultMessage: 'The task was modified concurrently; retry',
  },
  UNAUTHENTICATED: {
    jsonRpc: -32070,
    http: 401,
    grpc: 'UNAUTHENTICATED',
    reason: 'UNAUTHENTICATED',
    defaultMessage: 'Authentication required: send an API key (X-API-Key) or a bearer token',
  },
  PERMISSION_DENIED: {
    jsonRpc: -32071,
    http: 403,
    grpc: 'PERMISSION_DENIED',
    reason: 'PERMISSION_DENIED',
    defaultMessage: 'The caller lacks a scope this operation requires',
  },
  RATE_LIMITED: {
    jsonRpc: -32072,
    http: 429,
    grpc: 'RESOURCE_EXHAUSTED',
    reason: 'RATE_LIMITED',
    retryable: true,
    defaultMessage: 'Too many requests; retry after the delay given',
  },
  TOO_MANY_TASKS: {
    jsonRpc: -32073,
    http: 429,
    grpc: 'RESOURCE_EXHAUSTED',
    reason: 'TOO_MANY_TASKS',
    retryable: true,
    defaultMessage: 'This caller already has as many tasks in flight as it may; retry when one ends',
  },
  PUSH_TARGET_REFUSED: {
    jsonRpc: -32074,
    http: 400,
    grpc: 'INVALID_ARGUMENT',
    reason: 'PUSH_TARGET_REFUSED',
    defaultMessage: 'The push-notification URL is not an allowed target',
  },
  AGENT_CARD_UNVERIFIED: {
    jsonRpc: -32075,
    http: 502,
    grpc: 'FAILED_PRECONDITION',
    reason: 'AGENT_CARD_UNVERIFIED',
    defaultMessage: "A peer agent's card is unsigned, or its signature does not verify with the trusted keys",
  },
  PEER_UNAVAILABLE: {
    jsonRpc: -32076,
    http: 503,
    grpc: 'UNAVAILABLE',
    reason: 'PEER_UNAVAILABLE',
    retryable: true,
    defaultMessage: 'The other agent is unreachable, or its circuit breaker is open; retry later',
  },
  PEER_TIMEOUT: {
    jsonRpc: -32077,
    http: 504,
    grpc: 'DEADLINE_EXCEEDED',
    reason: 'PEER_TIMEOUT',
    retryable: true,
    defaultMessage: 'The other agent did not answer in time',
  },
  NO_AGENT_FOR_CAPABILITY: {
    jsonRpc: -32078,
    http: 404,
    grpc: 'NOT_FOUND',
    reason: 'NO_AGENT_FOR_CAPABILITY',
    defaultMessage: 'No reachable agent has that capability',
  },
  CALL_DEPTH_EXCEEDED: {
    jsonRpc: -32079,
    http: 400,
    grpc: 'FAILED_PRECONDITION',
    reason: 'CALL_DEPTH_EXCEEDED',
    defaultMessage: 'Agents calling agents went deeper than allowed (a loop between workflows or routers?)',
  },
  MCP_TOOL_NOT_FOUND: {
    jsonRpc: -32060,
    http: 404,
    grpc: 'NOT_FOUND',
    reason: 'MCP_TOOL_NOT_FOUND',
    defaultMessage: 'No such MCP tool',
  },
  MCP_INVALID_ARGUMENTS: {
    jsonRpc: -32061,
    http: 400,
    grpc: 'INVALID_ARGUMENT',
    reason: 'MCP_INVALID_ARGUMENTS',
    defaultMessage: "The arguments do not match the tool's input schema",
  },
  MCP_SERVER_UNAVAILABLE: {
    jsonRpc: -32062,
    http: 503,
    grpc: 'UNAVAILABLE',
    reason: 'MCP_SERVER_UNAVAILABLE',
    retryable: true,
    defaultMessage: 'The MCP server is unavailable; retry later',
  },
  MCP_TIMEOUT: {
    jsonRpc: -32063,
    http: 504,
    grpc: 'DEADLINE_EXCEEDED',
    reason: 'MCP_TIMEOUT',
    retryable: true,
    defaultMessage: 'The MCP tool call timed out',
  },
  MCP_TOOL_ERROR: {
    jsonRpc: -32064,
    http: 502,
    grpc: 'ABORTED',
    reason: 'MCP_TOOL_ERROR',
    defaultMessage: 'The MCP tool reported an error',
  },
  MCP_CALL_FAILED: {
    jsonRpc: -32065,
    http: 502,
    grpc: 'UNAVAILABLE',
    reason: 'MCP_CALL_FAILED',
    retryable: true,
    defaultMessage: 'The MCP call failed',
  },
  BACKUP_INVALID: {
    jsonRpc: -32090,
    http: 400,
    grpc: 'DATA_LOSS',
    reason: 'BACKUP_INVALID',
    defaultMessage: 'The backup file is not a complete, unaltered agentd backup',
  },
} as const satisfies Record<string, ErrorSpec>;

/** A stable catalogue code, e.g. `TASK_NOT_FOUND`. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * An error from the catalogue. It extends the SDK's `A2AError` so the SDK's own
 * serialisers (v0.3 compat layer, `toErrorInfo`) understand it; `transport` and
 * `envelopeCode` are the SDK's duck-typed hooks that make its JSON-RPC mappers keep our
 * exact code instead of collapsing unknown errors to -32603.
 */
export class AgentdError extends A2AError {
  override readonly reason: string;
  readonly code: ErrorCode;
  readonly jsonRpcCode: number;
  readonly httpStatus: number;
  readonly grpcStatus: GrpcStatusName;
  readonly retryable: boolean;
  /** Structured detail for the client (e.g. `{ field: 'params.message' }`). */
  readonly data: Record<string, string> | undefined;
  readonly transport = 'jsonrpc';
  readonly envelopeCode: number;

  constructor(
    code: ErrorCode,
    message?: string,
    data?: Record<string, string>,
    options?: { cause?: unknown },
  ) {
    const spec: ErrorSpec = ERROR_CATALOGUE[code];
    super({
      message: message ?? spec.defaultMessage,
      cause: options?.cause,
      ...(data ? { metadata: data } : {}),
    });
    this.name = spec.sdkName ?? 'AgentdError';
    this.code = code;
    this.reason = spec.reason;
    this.jsonRpcCode = spec.jsonRpc;
    this.envelopeCode = spec.jsonRpc;
    this.httpStatus = spec.http;
    this.grpcStatus = spec.grpc;
    this.retryable = spec.retryable ?? false;
    this.data = data;
  }
}

/** Shorthand for `new AgentdError(...)`, reads well in `throw err('TASK_NOT_FOUND', ...)`. */
export function err(code: ErrorCode, message?: string, data?: Record<string, string>): AgentdError {
  return new AgentdError(code, message, data);
}

/** Whether `error` is the catalogue error `code` (match on codes, never on message text). */
export function isAgentdError(error: unknown, code: ErrorCode): error is AgentdError {
  return error instanceof AgentdError && error.code === code;
}

/** Invalid-params error that names the offending field, as every rejection must. */
export function invalidParams(field: string, problem: string): AgentdError {
  return new AgentdError('INVALID_PARAMS', `${field}: ${problem}`, { field });
}

const SDK_NAME_TO_CODE: ReadonlyMap<string, ErrorCode> = new Map(
  (Object.entries(ERROR_CATALOGUE) as [ErrorCode, ErrorSpec][])
    .filter(([, spec]) => spec.sdkName !== undefined)
    .map(([code, spec]) => [spec.sdkName as string, code]),
);

/**
 * Normalises anything thrown into a catalogue error. SDK semantic errors keep their
 * meaning; anything else becomes INTERNAL with a generic message (the original is kept
 * as `cause` for logs, never sent to the client).
 */
export function toAgentdError(error: unknown): AgentdError {
  if (error instanceof AgentdError) return error;
  if (error instanceof A2AError) {
    const code = SDK_NAME_TO_CODE.get(error.name) ?? 'INTERNAL';
    return new AgentdError(code, error.message, undefined, { cause: error });
  }
  return new AgentdError('INTERNAL', undefined, undefined, { cause: error });
}

/** Longest run of a client's value an error echoes back (ids, names, paths). */
export const MAX_ECHO_CHARS = 128;
/** Longest error message put on the wire. */
const MAX_MESSAGE_CHARS = 1024;

/** `value`, or its first {@link MAX_ECHO_CHARS} characters and an ellipsis. */
export function capEcho(value: string, max = MAX_ECHO_CHARS): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/**
 * The message of an error as sent on every transport: each run of more than
 * {@link MAX_ECHO_CHARS} non-space characters (an echoed id, name or path) is capped, then
 * the whole message. A 100,000-character task id used to be repeated in full in the message
 * and in ErrorInfo, making gRPC trailers of ~800 KB that wedged the caller's connection.
 */
export function wireMessage(e: AgentdError): string {
  const capped = e.message.replace(/\S{129,}/g, (run) => capEcho(run));
  return capEcho(capped, MAX_MESSAGE_CHARS);
}

/** ErrorInfo metadata as sent on every transport: the error's data, values capped, plus `retryable`. */
export function wireMetadata(e: AgentdError): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(e.data ?? {})) metadata[capEcho(key)] = capEcho(value);
  if (e.retryable) metadata.retryable = 'true';
  return metadata;
}

/** JSON-RPC `error` member for a catalogue error (A2A §9.5: ErrorInfo in `data`). */
export function toJsonRpcErrorBody(e: AgentdError): { code: number; message: string; data: unknown[] } {
  return { code: e.jsonRpcCode, message: wireMessage(e), data: [errorInfo(e)] };
}

/** HTTP+JSON error body: the `google.rpc.Status` JSON shape of A2A §11.6. */
export function toRestErrorBody(e: AgentdError): {
  error: { code: number; status: string; message: string; details: unknown[] };
} {
  return {
    error: { code: e.httpStatus, status: e.grpcStatus, message: wireMessage(e), details: [errorInfo(e)] },
  };
}

/** `google.rpc.ErrorInfo` for a catalogue error. */
export function errorInfo(e: AgentdError): Record<string, unknown> {
  const info: Record<string, unknown> = {
    '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
    reason: e.reason,
    domain: 'a2a-protocol.org',
  };
  const metadata = wireMetadata(e);
  if (Object.keys(metadata).length > 0) info.metadata = metadata;
  return info;
}
