/**
 * A2A over HTTP from Node, for what wrk cannot do: checking one SendMessage
 * answer before a wrk run, and timing SendStreamingMessage events with
 * `fetch` and the SDK's SSE parser (`parseSseStream`).
 */
import { parseSseStream } from '@a2a-js/sdk';
import type { StreamResponse } from '@a2a-js/sdk';
import { decodeSendResponse, decodeStreamEvent, echoProblem, httpHeaders, type HttpBinding } from './a2a.js';
import type { StreamCapture } from './streaming.js';

const VERIFY_TIMEOUT_MS = 10_000;
const STREAM_TIMEOUT_MS = 30_000;

/** An A2A HTTP endpoint and the body to POST to it. */
export interface HttpA2ARequest {
  /** Label used in errors. */
  name: string;
  url: string;
  binding: HttpBinding;
  body: string;
}

/**
 * POSTs `req.body` once and throws unless the answer is HTTP 200 carrying
 * the completed echo task for `text` (see {@link echoProblem}).
 */
export async function verifyHttpEcho(req: HttpA2ARequest, text: string): Promise<void> {
  const res = await fetch(req.url, {
    method: 'POST',
    headers: httpHeaders(req.binding),
    body: req.body,
    signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS),
  });
  const raw = await res.text();
  let problem: string | undefined;
  if (res.status !== 200) {
    problem = `HTTP ${res.status}`;
  } else {
    try {
      problem = echoProblem(decodeSendResponse(req.binding, raw), text);
    } catch (error) {
      problem = (error as Error).message;
    }
  }
  if (problem) {
    throw new Error(
      `${req.name}: SendMessage to ${req.url} did not return the completed echo task (${problem}).\n` +
        `  response: ${raw.slice(0, 2_000)}`,
    );
  }
}

/**
 * POSTs a SendStreamingMessage body and reads the SSE answer to its end,
 * timing each event on arrival; events are decoded only after the stream
 * ends, so decoding does not slow the reading. Rejects on a non-200 answer,
 * an SSE `error` event, a JSON-RPC error, or a stream without events.
 */
export async function sseStreamOnce(req: HttpA2ARequest): Promise<StreamCapture> {
  const start = process.hrtime.bigint();
  const res = await fetch(req.url, {
    method: 'POST',
    headers: { ...httpHeaders(req.binding), Accept: 'text/event-stream' },
    body: req.body,
    signal: AbortSignal.timeout(STREAM_TIMEOUT_MS),
  });
  if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('text/event-stream')) {
    throw new Error(
      `${req.name}: SendStreamingMessage to ${req.url} answered HTTP ${res.status} ` +
        `${res.headers.get('content-type') ?? ''}: ${(await res.text()).slice(0, 2_000)}`,
    );
  }
  const data: string[] = [];
  let first = 0n;
  let last = 0n;
  for await (const event of parseSseStream(res)) {
    last = process.hrtime.bigint();
    if (data.length === 0) first = last;
    if (event.type === 'error') throw new Error(`${req.name}: SSE error event: ${event.data}`);
    data.push(event.data);
  }
  if (data.length === 0) throw new Error(`${req.name}: SendStreamingMessage to ${req.url} sent no event`);
  let events: StreamResponse[];
  try {
    events = data.map((d) => decodeStreamEvent(req.binding, d));
  } catch (error) {
    throw new Error(`${req.name}: bad stream event from ${req.url}: ${(error as Error).message}`);
  }
  return { start, first, last, events };
}
