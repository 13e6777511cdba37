import type { ServerResponse } from 'node:http';

/** Response headers of every SSE stream. */
const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/**
 * One Server-Sent Events response. Sends `id:` (the event-log sequence, so a client can
 * resume with `Last-Event-ID`) and `data:` lines, comment keep-alives while idle, waits
 * for `drain` when the socket is full, and aborts `signal` the moment the client goes
 * away so the producer stops and its subscriber is released.
 */
export class SseStream {
  private readonly keepAlive: NodeJS.Timeout;
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    keepAliveMs: number,
    private readonly onEnd: (stream: SseStream) => void,
    /** Aborted on disconnect or end; the producer listens to it. */
    private readonly controller: AbortController = new AbortController(),
    headers: Record<string, string> = {},
  ) {
    res.writeHead(200, { ...SSE_HEADERS, ...headers });
    res.flushHeaders();
    this.keepAlive = setInterval(() => this.write(': keep-alive\n\n'), keepAliveMs);
    this.keepAlive.unref();
    res.on('close', () => {
      this.controller.abort();
      this.cleanup();
    });
  }

  /** Aborts when the client disconnects or the stream is ended. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Sends one event; resolves when the socket can take more. */
  async send(data: string, id?: number, event?: string): Promise<void> {
    let frame = '';
    if (id !== undefined) frame += `id: ${id}\n`;
    if (event) frame += `event: ${event}\n`;
    frame += `data: ${data}\n\n`;
    if (!this.write(frame)) await this.drained();
  }

  /** Ends the response cleanly (idempotent). */
  end(): void {
    if (this.ended) return;
    if (!this.res.writableEnded) this.res.end();
    this.controller.abort();
    this.cleanup();
  }

  private write(chunk: string): boolean {
    if (this.ended || this.res.writableEnded || this.res.destroyed) return true;
    return this.res.write(chunk);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.controller.signal.removeEventListener('abort', done);
        resolve();
      };
      this.res.on('drain', done);
      this.controller.signal.addEventListener('abort', done, { once: true });
    });
  }

  private cleanup(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepAlive);
    this.onEnd(this);
  }
}
