/**
 * One A2A HTTP request at a time over one keep-alive connection, with plain node:http: the
 * latency benchmarks time sequential requests, and fetch's web streams would add client CPU
 * to every sample on a 2-core machine.
 */
import { Agent, request } from 'node:http';

/** A keep-alive connection to one server on 127.0.0.1 (at most one socket). */
export class KeepAlivePost {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly port: number) {}

  /** POSTs a JSON body (`A2A-Version: 1.0`) to `path`; resolves with the status and the whole response body. */
  post(path: string, body: string): Promise<{ status: number; body: string }> {
    return new Promise((resolvePost, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: '127.0.0.1',
          port: this.port,
          path,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'a2a-version': '1.0',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (data += c));
          res.on('end', () => resolvePost({ status: res.statusCode ?? 0, body: data }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.agent.destroy();
  }
}
