/**
 * SubscribeToTask over plain node:http with a minimal SSE reader: each chunk is stamped on
 * arrival (wall clock, the same in every process on the machine) and only split into events;
 * decoding waits for the end of the stream. (fetch's web streams cost the client enough CPU
 * to show in the tail on a 2-core machine.)
 */
import { request, type Agent } from 'node:http';

export const wallClock = (): number => performance.timeOrigin + performance.now();

export function subscribe(
  url: string,
  taskId: string,
  agent?: Agent,
): Promise<Array<{ at: number; data: string }>> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'SubscribeToTask', params: { id: taskId } });
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' }, ...(agent ? { agent } : {}) },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`SubscribeToTask answered HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        const chunks: Array<{ at: number; text: string }> = [];
        res.setEncoding('utf8');
        res.on('data', (text: string) => chunks.push({ at: wallClock(), text }));
        res.on('end', () => {
          const arrivals: Array<{ at: number; data: string }> = [];
          let buffer = '';
          for (const { at, text } of chunks) {
            buffer += text;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const frame = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = frame
                .split('\n')
                .filter((l) => l.startsWith('data:'))
                .map((l) => l.slice(5).trimStart())
                .join('\n');
              if (data) arrivals.push({ at, data });
            }
          }
          resolve(arrivals);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
