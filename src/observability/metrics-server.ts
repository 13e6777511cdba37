import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentdMetrics } from './metrics.js';

export interface MetricsServer {
  /** `host:port` it listens on. */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * The Prometheus listener: `GET /metrics` on its own port (the seed's 9090), so scraping
 * never queues behind A2A traffic and the port can stay inside the cluster.
 */
export async function startMetricsServer(
  metrics: AgentdMetrics,
  host: string,
  port: number,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
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
