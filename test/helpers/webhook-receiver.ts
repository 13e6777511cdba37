/**
 * A tiny push-notification webhook on loopback: records every POST it receives and lets a
 * test await a particular one, so tests wait on arrivals rather than on time.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The raw body text. */
  readonly raw: string;
  /** The body parsed as JSON (undefined if it was not JSON). */
  readonly body: unknown;
  /** The status this receiver answered with, or 'hang' when it never answered. */
  readonly answered: number | 'hang';
}

/** Decides the answer to the n-th request (1-based): an HTTP status, or 'hang' to never answer. */
export type Responder = (n: number, request: Omit<WebhookRequest, 'answered'>) => number | 'hang';

export interface WebhookReceiver {
  /** The URL to register as a push notification target. */
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly requests: readonly WebhookRequest[];
  /**
   * Resolves with the first request, past or future, that matches. Rejects after
   * `timeoutMs` (a failure guard, not a wait) listing what did arrive.
   */
  waitFor(predicate: (request: WebhookRequest) => boolean, timeoutMs?: number): Promise<WebhookRequest>;
  /** Stops listening and drops open connections (including hung ones). */
  close(): Promise<void>;
}

export async function startWebhookReceiver(respond: Responder = () => 200): Promise<WebhookReceiver> {
  const requests: WebhookRequest[] = [];
  const waiters: Array<{ predicate: (r: WebhookRequest) => boolean; resolve: (r: WebhookRequest) => void }> =
    [];
  const hung: ServerResponse[] = [];

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, body };
      const answered = respond(requests.length + 1, seen);
      const record: WebhookRequest = { ...seen, answered };
      requests.push(record);
      if (answered === 'hang') hung.push(res);
      else res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered < 300 ? 'ok' : 'fail');
      for (const w of [...waiters]) {
        if (w.predicate(record)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(record);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    waitFor(predicate, timeoutMs = 5000) {
      const found = requests.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          const got = requests.map((r) => r.raw.slice(0, 120));
          reject(
            new Error(
              `webhook: no matching request within ${timeoutMs} ms; received ${requests.length}: ${JSON.stringify(got)}`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          predicate,
          resolve: (r: WebhookRequest) => {
            clearTimeout(timer);
            resolve(r);
          },
        };
        waiters.push(waiter);
      });
    },
    async close() {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback URL on which nothing listens (connections are refused). */
export async function deadWebhookUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/hook`;
}
