/**
 * A scripted OpenAI-compatible model on 127.0.0.1: `POST /v1/chat/completions` answers
 * each request with the reply the test's script gives for it, streamed as OpenAI does
 * (`data: {chat.completion.chunk}` SSE events with `choices[0].delta.content` or
 * `delta.tool_calls`, a `finish_reason`, a usage chunk when `stream_options.include_usage`
 * asks for it, then `data: [DONE]`). It checks `Authorization: Bearer <apiKey>` the way
 * OpenAI does (401 with an error body) and records every request it got.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  readonly content: string | null;
  readonly tool_calls?: Array<{
    id: string;
    type: 'function';
    function: { name: string; arguments: string };
  }>;
  readonly tool_call_id?: string;
}

export interface ChatBody {
  readonly model: string;
  readonly stream?: boolean;
  readonly stream_options?: { include_usage?: boolean };
  readonly messages: ChatMessage[];
  readonly tools?: Array<{
    type: 'function';
    function: { name: string; description?: string; parameters: unknown };
  }>;
  readonly max_tokens?: number;
  readonly temperature?: number;
}

export interface ChatRequest {
  readonly headers: IncomingHttpHeaders;
  readonly body: ChatBody;
  /** Resolves if the client closes the connection before the reply is complete. */
  readonly abandoned: Promise<void>;
}

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

/** What the model answers one request with. */
export type Reply =
  /** Text streamed in these chunks, `delayMs` apart. */
  | { readonly text: readonly string[]; readonly delayMs?: number; readonly usage?: Usage }
  /** One assistant turn asking for these tool calls (arguments streamed in two pieces each). */
  | {
      readonly toolCalls: ReadonlyArray<{ name: string; arguments: Record<string, unknown> }>;
      readonly usage?: Usage;
    }
  /** An HTTP error with an OpenAI error body. */
  | { readonly status: number; readonly error: string; readonly headers?: Record<string, string> }
  /** This SSE body, as is (for malformed answers). */
  | { readonly raw: string }
  /** These text chunks, then nothing: the stream stays open until the client leaves. */
  | { readonly hang: readonly string[] };

export type Script = (request: ChatRequest, index: number) => Reply;

/** Usage reported for each request unless the reply says otherwise. */
export const DEFAULT_USAGE: Usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };

export interface FakeOpenAi {
  /** The API's base URL, `http://127.0.0.1:<port>/v1`. */
  readonly baseUrl: string;
  /** Every chat request received, in order. */
  readonly requests: ChatRequest[];
  /** Replaces the script and forgets the requests seen so far. */
  reset(script: Script): void;
  /** Resolves with the n-th (1-based) request once it has arrived. */
  request(n: number): Promise<ChatRequest>;
  close(): Promise<void>;
}

export async function startFakeOpenAi(apiKey: string): Promise<FakeOpenAi> {
  let script: Script = () => ({ text: ['no script'] });
  const requests: ChatRequest[] = [];
  let waiters: Array<{ n: number; resolve: (r: ChatRequest) => void }> = [];

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        sendError(res, 404, `Unknown path ${req.method ?? ''} ${req.url ?? ''}`);
        return;
      }
      if (req.headers.authorization !== `Bearer ${apiKey}`) {
        sendError(res, 401, 'Incorrect API key provided', 'invalid_api_key');
        return;
      }
      const abandoned = new Promise<void>((resolve) => {
        res.on('close', () => {
          if (!res.writableFinished) resolve();
        });
      });
      const request: ChatRequest = {
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatBody,
        abandoned,
      };
      requests.push(request);
      const index = requests.length - 1;
      const ready = waiters.filter((w) => w.n === requests.length);
      waiters = waiters.filter((w) => w.n !== requests.length);
      for (const w of ready) w.resolve(request);
      void answer(res, request, script(request, index));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    reset(next) {
      script = next;
      requests.length = 0;
      waiters = [];
    },
    request(n) {
      const seen = requests[n - 1];
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function sendError(res: ServerResponse, status: number, message: string, code?: string, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(
    JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: code ?? null } }),
  );
}

let completions = 0;

async function answer(res: ServerResponse, request: ChatRequest, reply: Reply): Promise<void> {
  if ('status' in reply) {
    sendError(res, reply.status, reply.error, undefined, reply.headers);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  if ('raw' in reply) {
    res.end(reply.raw);
    return;
  }
  const id = `chatcmpl-${++completions}`;
  const base = {
    id,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model: request.body.model,
  };
  const send = (choice: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): void => {
    if (!res.writableEnded)
      res.write(`data: ${JSON.stringify({ ...base, choices: choice ? [choice] : [], ...extra })}\n\n`);
  };
  const delta = (d: Record<string, unknown>, finish: string | null = null): void =>
    send({ index: 0, delta: d, logprobs: null, finish_reason: finish });

  if ('hang' in reply) {
    for (const text of reply.hang) delta({ role: 'assistant', content: text });
    return; // left open: the client has to go away
  }
  if ('toolCalls' in reply) {
    reply.toolCalls.forEach((call, i) => {
      const args = JSON.stringify(call.arguments);
      const half = Math.floor(args.length / 2);
      delta({
        role: 'assistant',
        content: null,
        tool_calls: [
          { index: i, id: `call_${id}_${i}`, type: 'function', function: { name: call.name, arguments: '' } },
        ],
      });
      delta({ tool_calls: [{ index: i, function: { arguments: args.slice(0, half) } }] });
      delta({ tool_calls: [{ index: i, function: { arguments: args.slice(half) } }] });
    });
    delta({}, 'tool_calls');
  } else {
    for (const [i, text] of reply.text.entries()) {
      if (i > 0 && reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
      delta(i === 0 ? { role: 'assistant', content: text } : { content: text });
    }
    delta({}, 'stop');
  }
  if (request.body.stream_options?.include_usage) send(undefined, { usage: reply.usage ?? DEFAULT_USAGE });
  if (!res.writableEnded) res.end('data: [DONE]\n\n');
}
