/**
 * A small A2A peer over real HTTP on 127.0.0.1: an agent card (with an ETag and a
 * configurable Cache-Control, answering 304 to a matching If-None-Match) and a v1.0
 * JSON-RPC endpoint for SendMessage, GetTask and CancelTask. A test decides how each
 * JSON-RPC request is answered (`respond`), and sees every request, the messageIds sent,
 * the agent's runs (one per new messageId) and the TCP connections opened.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Message, Role, SendMessageResponse, Task, TaskState } from '@a2a-js/sdk';

export interface PeerRequest {
  readonly method: string;
  readonly messageId: string | undefined;
  readonly at: number;
}

/** What to answer instead of the normal result: an HTTP status, headers and a JSON body. */
export interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Wait this long before answering (a slow peer). */
  readonly delayMs?: number;
}

export interface FakePeer {
  readonly url: string;
  readonly requests: PeerRequest[];
  /** Card requests: whether each was conditional, and what was answered. */
  readonly cardRequests: Array<{ ifNoneMatch: string | undefined; status: number }>;
  /** Runs of the agent by messageId (a repeated messageId does not run again). */
  readonly runs: Map<string, number>;
  /** TCP connections accepted so far. */
  connections: number;
  /** Answers the n-th (0-based) JSON-RPC request; undefined: the normal result. */
  respond: (n: number, request: PeerRequest, id: unknown) => Answer | undefined;
  cacheControl: string;
  /** Wait this long before answering a card request (a peer that hangs). */
  cardDelayMs: number;
  close(): Promise<void>;
}

export async function startFakePeer(name = 'flaky'): Promise<FakePeer> {
  const sockets = new Set<Socket>();
  const peer: FakePeer = {
    url: '',
    requests: [],
    cardRequests: [],
    runs: new Map(),
    connections: 0,
    respond: () => undefined,
    cacheControl: 'public, max-age=60',
    cardDelayMs: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const etag = `"card-${name}-1"`;
  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  server.on('connection', (socket) => {
    peer.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/.well-known/agent-card.json') {
      const ifNoneMatch = req.headers['if-none-match'];
      const status = ifNoneMatch === etag ? 304 : 200;
      peer.cardRequests.push({ ifNoneMatch, status });
      if (peer.cardDelayMs) await new Promise((resolve) => setTimeout(resolve, peer.cardDelayMs));
      res.writeHead(status, { etag, 'cache-control': peer.cacheControl, 'content-type': 'application/json' });
      res.end(status === 304 ? undefined : JSON.stringify(card(name, peer.url)));
      return;
    }
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const rpc = JSON.parse(raw) as {
      id: unknown;
      method: string;
      params: { id?: string; message?: { messageId?: string } };
    };
    const request: PeerRequest = {
      method: rpc.method,
      messageId: rpc.params.message?.messageId,
      at: performance.now(),
    };
    const n = peer.requests.push(request) - 1;
    const answer = peer.respond(n, request, rpc.id);
    if (answer?.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    if (answer) {
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: rpc.id, result: result(peer, request, rpc.params) }));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (peer as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return peer;
}

function result(peer: FakePeer, request: PeerRequest, params: { id?: string }): unknown {
  if (request.method === 'SendMessage') {
    const id = request.messageId ?? '';
    if (!peer.runs.has(id)) peer.runs.set(id, 0);
    peer.runs.set(id, (peer.runs.get(id) ?? 0) + 1);
    return SendMessageResponse.toJSON({ payload: { $case: 'message', value: reply(`ran ${id}`) } });
  }
  return Task.toJSON(task(params.id ?? 'task-1', request.method === 'CancelTask'));
}

function reply(text: string): Message {
  return {
    messageId: `reply-${Math.random()}`,
    contextId: 'ctx-1',
    taskId: '',
    role: Role.ROLE_AGENT,
    parts: [
      { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' },
    ],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

function task(id: string, canceled: boolean): Task {
  return {
    id,
    contextId: 'ctx-1',
    status: {
      state: canceled ? TaskState.TASK_STATE_CANCELED : TaskState.TASK_STATE_COMPLETED,
      message: undefined,
      timestamp: new Date().toISOString(),
    },
    artifacts: [],
    history: [],
    metadata: undefined,
  };
}

function card(name: string, url: string): unknown {
  return {
    name,
    description: 'a test peer',
    version: '1.0.0',
    supportedInterfaces: [{ url: `${url}/`, protocolBinding: 'JSONRPC', protocolVersion: '1.0', tenant: '' }],
    capabilities: { streaming: false, pushNotifications: false },
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: [],
  };
}

/** A JSON-RPC error body as agentd sends it: the catalogue code and its ErrorInfo. */
export function rpcError(id: unknown, code: number, reason: string, retryable: boolean): unknown {
  return {
    jsonrpc: '2.0',
    id,
    error: {
      code,
      message: `${reason} (test)`,
      data: [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason,
          domain: 'a2a-protocol.org',
          ...(retryable ? { metadata: { retryable: 'true' } } : {}),
        },
      ],
    },
  };
}
