/**
 * Raw-wire helpers for protocol tests: plain `fetch` on loopback (no SDK client), so
 * tests assert the exact JSON-RPC / HTTP+JSON shapes, plus a small Server-Sent Events
 * reader that also surfaces comment lines (keep-alives).
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { expect } from 'vitest';

export const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';
export const A2A_DOMAIN = 'a2a-protocol.org';

/** Parsed wire JSON: tests navigate it freely and assert on what they find. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** A response with its body read (text, and JSON when it parses). */
export interface WireResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Parsed body, or undefined when it is not JSON. */
  readonly json: Json;
}

/** Reads a fetch response into a {@link WireResponse}. */
export async function readResponse(res: Response): Promise<WireResponse> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A v1.0 user message as JSON. */
export function messageJson(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text }], ...extra };
}

let nextId = 1;

/** A JSON-RPC 2.0 request body. */
export function rpcBody(
  method: string,
  params: unknown = {},
  id: unknown = nextId++,
): Record<string, unknown> {
  return { jsonrpc: '2.0', id, method, params };
}

/** The JSON-RPC endpoint of an agent. */
export function rpcUrl(baseUrl: string, agent: string): string {
  return `${baseUrl}/a2a/${agent}/`;
}

/** The HTTP+JSON base of an agent (append `/message:send` etc.). */
export function restUrl(baseUrl: string, agent: string): string {
  return `${baseUrl}/a2a/${agent}/rest`;
}

/**
 * POSTs to a JSON-RPC endpoint. `body` is serialised unless it is already a string or
 * bytes (fetch sends bytes without any Content-Type, unless one is given here).
 */
export async function postRpc(
  baseUrl: string,
  agent: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<WireResponse> {
  return readResponse(await fetch(rpcUrl(baseUrl, agent), { method: 'POST', ...encodeBody(body, headers) }));
}

/** Calls one JSON-RPC method. */
export function rpc(
  baseUrl: string,
  agent: string,
  method: string,
  params: unknown = {},
  headers: Record<string, string> = {},
): Promise<WireResponse> {
  return postRpc(baseUrl, agent, rpcBody(method, params), headers);
}

/** One HTTP+JSON call; `path` is below the agent's `/rest` base. */
export async function rest(
  baseUrl: string,
  agent: string,
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<WireResponse> {
  const init: RequestInit =
    body === undefined
      ? { method, headers }
      : body instanceof Uint8Array
        ? { method, ...encodeBody(body, headers) }
        : { method, ...encodeBody(body, { 'content-type': 'application/a2a+json', ...headers }) };
  return readResponse(await fetch(`${restUrl(baseUrl, agent)}${path}`, init));
}

function encodeBody(
  body: unknown,
  headers: Record<string, string>,
): { body: string | Uint8Array; headers: Record<string, string> } {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  if (body instanceof Uint8Array) return { body, headers: lower };
  return {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...lower },
  };
}

/** Expected JSON-RPC error. `http` defaults to 200 (A2A errors ride on HTTP 200). */
export interface RpcErrorExpectation {
  readonly code: number;
  readonly reason: string;
  readonly http?: number;
  /** Expected `id` of the error response. */
  readonly id?: unknown;
  /** `data[0].metadata.field`; the message must also name it. */
  readonly field?: string;
  /** Substrings the message must contain. */
  readonly messageIncludes?: readonly string[];
}

/** Asserts a JSON-RPC error response, ErrorInfo detail included (A2A §9.5). */
export function expectRpcError(res: WireResponse, exp: RpcErrorExpectation): void {
  const context = `${res.status} ${res.text}`;
  expect(res.status, context).toBe(exp.http ?? 200);
  expect(res.headers.get('content-type'), context).toMatch(/^application\/json/);
  expect(res.json, context).toBeTypeOf('object');
  expect(Object.keys(res.json).sort(), context).toEqual(['error', 'id', 'jsonrpc']);
  expect(res.json.jsonrpc).toBe('2.0');
  if ('id' in exp) expect(res.json.id, context).toEqual(exp.id);
  const error = res.json.error;
  expect(error.code, context).toBe(exp.code);
  expect(error.message, context).toBeTypeOf('string');
  expect(error.message.length, context).toBeGreaterThan(0);
  expect(Array.isArray(error.data), context).toBe(true);
  const info = error.data[0];
  expect(info, context).toMatchObject({ '@type': ERROR_INFO_TYPE, reason: exp.reason, domain: A2A_DOMAIN });
  if (exp.field !== undefined) {
    expect(info.metadata?.field, context).toBe(exp.field);
    expect(error.message, context).toContain(exp.field);
  }
  for (const s of exp.messageIncludes ?? []) expect(error.message, context).toContain(s);
}

/** Expected HTTP+JSON error (`google.rpc.Status`, A2A §11.6). */
export interface RestErrorExpectation {
  readonly http: number;
  /** `google.rpc.Code` name, e.g. INVALID_ARGUMENT. */
  readonly status: string;
  readonly reason: string;
  readonly field?: string;
  readonly messageIncludes?: readonly string[];
}

/** Asserts an HTTP+JSON error response in the `google.rpc.Status` shape. */
export function expectRestError(res: WireResponse, exp: RestErrorExpectation): void {
  const context = `${res.status} ${res.text}`;
  expect(res.status, context).toBe(exp.http);
  expect(res.headers.get('content-type'), context).toMatch(/^application\/(a2a\+)?json/);
  expect(res.json, context).toBeTypeOf('object');
  expect(Object.keys(res.json), context).toEqual(['error']);
  const error = res.json.error;
  expect(Object.keys(error).sort(), context).toEqual(['code', 'details', 'message', 'status']);
  expect(error.code, context).toBe(exp.http);
  expect(error.status, context).toBe(exp.status);
  expect(error.message, context).toBeTypeOf('string');
  expect(error.message.length, context).toBeGreaterThan(0);
  expect(Array.isArray(error.details), context).toBe(true);
  expect(error.details[0], context).toMatchObject({
    '@type': ERROR_INFO_TYPE,
    reason: exp.reason,
    domain: A2A_DOMAIN,
  });
  if (exp.field !== undefined) {
    expect(error.details[0].metadata?.field, context).toBe(exp.field);
    expect(error.message, context).toContain(exp.field);
  }
  for (const s of exp.messageIncludes ?? []) expect(error.message, context).toContain(s);
}

// ------------------------------------------------------------------ Server-Sent Events

/** One SSE frame: an event (data, optional id/event name) or a comment (keep-alive). */
export interface SseFrame {
  readonly id?: string;
  readonly event?: string;
  /** Joined `data:` lines; undefined for a comment-only frame. */
  readonly data?: string;
  /** Comment text (after the leading `:`), when the frame is a comment. */
  readonly comment?: string;
}

/** Reads SSE frames from a fetch response body; `close()` aborts the request. */
export class SseReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private buffer = '';
  private done = false;

  constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    if (!response.body) throw new Error('response has no body');
    this.reader = response.body.getReader();
  }

  /** The next frame (events and comments), or undefined when the server ended the stream. */
  async nextFrame(): Promise<SseFrame | undefined> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const raw = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return parseFrame(raw);
      }
      if (this.done) {
        if (this.buffer.trim() !== '')
          throw new Error(`stream ended inside a frame: ${JSON.stringify(this.buffer)}`);
        return undefined;
      }
      const chunk = await this.reader.read();
      if (chunk.done) this.done = true;
      else this.buffer += this.decoder.decode(chunk.value, { stream: true });
    }
  }

  /** The next event (comments skipped), or undefined at the end of the stream. */
  async nextEvent(): Promise<SseFrame | undefined> {
    for (let f = await this.nextFrame(); f; f = await this.nextFrame()) if (f.data !== undefined) return f;
    return undefined;
  }

  /** Every remaining event until the server ends the stream. */
  async rest(): Promise<SseFrame[]> {
    const out: SseFrame[] = [];
    for (let e = await this.nextEvent(); e; e = await this.nextEvent()) out.push(e);
    return out;
  }

  /** Disconnects like a client that goes away. */
  close(): void {
    this.controller.abort();
    this.reader.cancel().catch(() => undefined);
  }
}

function parseFrame(raw: string): SseFrame {
  let id: string | undefined;
  let event: string | undefined;
  const data: string[] = [];
  const comments: string[] = [];
  for (const line of raw.split('\n')) {
    if (line.startsWith(':')) comments.push(line.slice(1).trim());
    else if (line.startsWith('id:')) id = line.slice(3).trim();
    else if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    else if (line !== '') throw new Error(`unexpected SSE line ${JSON.stringify(line)}`);
  }
  return {
    ...(id !== undefined ? { id } : {}),
    ...(event !== undefined ? { event } : {}),
    ...(data.length > 0 ? { data: data.join('\n') } : {}),
    ...(comments.length > 0 && data.length === 0 ? { comment: comments.join('\n') } : {}),
  };
}

/** Opens a streaming request; the response is returned once its headers arrived. */
export async function openSse(url: string, init: RequestInit): Promise<SseReader> {
  const controller = new AbortController();
  const response = await fetch(url, { ...init, signal: controller.signal });
  return new SseReader(response, controller);
}

/** Opens a JSON-RPC streaming call (SendStreamingMessage / SubscribeToTask). */
export function rpcStream(
  baseUrl: string,
  agent: string,
  method: string,
  params: unknown,
  headers: Record<string, string> = {},
): Promise<SseReader> {
  return openSse(rpcUrl(baseUrl, agent), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(rpcBody(method, params)),
  });
}

/** Opens an HTTP+JSON streaming call (`/message:stream`, `/tasks/{id}:subscribe`). */
export function restStream(
  baseUrl: string,
  agent: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<SseReader> {
  return openSse(`${restUrl(baseUrl, agent)}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/a2a+json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The A2A StreamResponse inside an SSE event (unwrapping the JSON-RPC envelope if any). */
export function streamPayload(frame: SseFrame): Record<string, Json> {
  const json = JSON.parse(frame.data ?? 'null');
  if (json && json.jsonrpc === '2.0') {
    if (json.error) throw new Error(`stream carried an error: ${frame.data}`);
    return json.result;
  }
  return json;
}

/** The task state an SSE event reports (Task snapshot or status update), if any. */
export function eventState(frame: SseFrame): string | undefined {
  const p = streamPayload(frame);
  return p.task?.status?.state ?? p.statusUpdate?.status?.state;
}

// ------------------------------------------------------------------ raw sockets

/**
 * Sends `head` (and then `bodyStart`) on a raw TCP socket and resolves with everything
 * the server writes back until it has sent one complete response (by Content-Length) or
 * closed the connection. The socket is destroyed afterwards; rejects if the server stays
 * silent for `timeoutMs`.
 */
export function rawExchange(
  baseUrl: string,
  head: string,
  bodyStart: string,
  timeoutMs = 5000,
): Promise<{ statusLine: string; headers: Record<string, string>; body: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no complete response within ${timeoutMs} ms (is the server waiting for the body?)`));
    });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (): boolean => {
      const text = received.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd < 0) return false;
      const lines = text.slice(0, headEnd).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? NaN);
      const body = received.subarray(Buffer.byteLength(text.slice(0, headEnd + 4), 'latin1'));
      if (Number.isFinite(length) && body.length < length) return false;
      settled = true;
      socket.destroy();
      resolve({ statusLine: lines[0] ?? '', headers, body: body.toString('utf8') });
      return true;
    };
    socket.on('connect', () => {
      socket.write(head);
      socket.write(bodyStart);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      finish();
    });
    socket.on('error', (e) => {
      if (!settled) reject(e);
    });
    socket.on('close', () => {
      if (!settled && !finish())
        reject(new Error(`connection closed before a full response: ${received.toString('latin1')}`));
    });
  });
}
