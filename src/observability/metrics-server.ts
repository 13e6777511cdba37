import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentdMetrics } from './metrics.js';

export interface MetricsServer {
  /** `host:port` it listens on. */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * The Prometheus listener: `GET /metrics` on its own port (9090 by default), so scraping
 * never queues behind A2A traffic and the port can stay inside the cluster.
 */
export async function startMetricsServer(
  metrics: AgentdMetrics,
  host: string,
  port: number,
  options: { readonly bearerToken?: string | undefined } = {},
): Promise<MetricsServer> {
  const expected = options.bearerToken === undefined ? undefined : digest(options.bearerToken);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (expected && !bearerMatches(req.headers.authorization, expected)) {
      res
        .writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' })
        .end('Unauthorized: send Authorization: Bearer <prometheus.bearerToken>\n');
      return;
    }
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: metrics are at GET /metrics\n');
      return;
    }
    metrics.exposition().then(
      (text) => {
        res
          .writeHead(200, { 'content-type': metrics.registry.contentType })
          .end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(`metrics collection failed: ${(error as Error).message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const reachable = a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address;
  const shown = reachable.includes(':') ? `[${reachable}]` : reachable;
  return {
    address: `${shown}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Whether `Authorization` carries the token (compared as digests, in constant time). */
function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const m = /^Bearer[ \t]+(.+)$/i.exec(header ?? '');
  return m?.[1] !== undefined && timingSafeEqual(digest(m[1].trim()), expected);
}
