/**
 * The unary gRPC load generator: h2load (Debian's nghttp2-client), a C HTTP/2
 * client, sending the same pre-encoded gRPC `SendMessage` frame to either gRPC
 * server. It plays the part wrk plays for HTTP.
 *
 * Why not the grpc-js client: on this 2-core machine it costs 0.35-0.6 ms of
 * CPU per call, as much as the servers it drives, so it saturated its core
 * while agentd's server idled at 64-71 % (measured with bench/lib/proc.ts's
 * CPU meter) — the ratio then measured the client. h2load costs a few
 * microseconds per call.
 *
 * What h2load cannot do is read the `grpc-status` trailer, so an error
 * answered with HTTP 200 would count as a success. The driver therefore checks
 * the answer with a real grpc-js call before and after every run, fails on any
 * non-2xx or stream error h2load reports, and requires the response bytes per
 * request to match a successful answer's size.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SendMessageRequest } from '@a2a-js/sdk';
import { A2AService } from '@a2a-js/sdk/server/grpc';
import { percentile } from './stats.js';
import { ensureTool, type WrkLatencyMs } from './wrk.js';

/** In-flight calls per HTTP/2 connection, as with the grpc-js generator. */
export const IN_FLIGHT_PER_CONNECTION = 8;

/** Options for {@link runH2loadUnary}. */
export interface H2loadUnaryOptions {
  /** `host:port` of the gRPC server. */
  address: string;
  /** Encoded once and sent as is (set `tenant` to address an agent). */
  request: SendMessageRequest;
  inFlight: number;
  durationSeconds: number;
}

/** Outcome of one {@link runH2loadUnary} run. */
export interface H2loadUnaryResult {
  inFlight: number;
  connections: number;
  durationSeconds: number;
  requests: number;
  requestsPerSecond: number;
  /** Response bytes (headers, body, trailers) per request, as h2load counts them. */
  bytesPerRequest: number;
  latencyMs: WrkLatencyMs;
}

/** Installs h2load when missing (root) or explains how to. */
export function ensureH2load(): void {
  ensureTool('h2load', 'nghttp2-client');
}

/** A gRPC length-prefixed message frame (uncompressed) for `SendMessage`. */
export function sendMessageFrame(request: SendMessageRequest): Buffer {
  const message = A2AService.sendMessage.requestSerialize(request);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/**
 * Keeps `inFlight` SendMessage calls outstanding for `durationSeconds` over
 * ceil(inFlight / {@link IN_FLIGHT_PER_CONNECTION}) HTTP/2 connections.
 * Latency percentiles come from h2load's per-request log.
 */
export function runH2loadUnary(opts: H2loadUnaryOptions): H2loadUnaryResult {
  const connections = Math.ceil(opts.inFlight / IN_FLIGHT_PER_CONNECTION);
  const streams = Math.ceil(opts.inFlight / connections);
  const dir = mkdtempSync(join(tmpdir(), 'agentd-h2load-'));
  try {
    const body = join(dir, 'request.bin');
    const log = join(dir, 'requests.log');
    writeFileSync(body, sendMessageFrame(opts.request));
    const res = spawnSync(
      'h2load',
      [
        '-D',
        String(opts.durationSeconds),
        '-c',
        String(connections),
        '-m',
        String(streams),
        '-t',
        '1',
        '-H',
        'content-type: application/grpc',
        '-H',
        'te: trailers',
        '-H',
        'a2a-version: 1.0',
        '-d',
        body,
        `--log-file=${log}`,
        `http://${opts.address}/lf.a2a.v1.A2AService/SendMessage`,
      ],
      { encoding: 'utf8', timeout: (opts.durationSeconds + 30) * 1000 },
    );
    if (res.error) throw new Error(`h2load failed to run: ${res.error.message}`);
    const out = `${res.stdout}${res.stderr}`;
    if (res.status !== 0) throw new Error(`h2load exited with status ${res.status}:\n${out}`);
    const summary = /finished in ([\d.]+)s, ([\d.]+) req\/s, ([\d.]+)(B|KB|MB|GB)\/s/.exec(out);
    const counts =
      /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
        out,
      );
    const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
    if (!summary || !counts || !codes) throw new Error(`cannot parse h2load output:\n${out}`);
    const [failed, errored, timedOut] = [Number(counts[4]), Number(counts[5]), Number(counts[6])];
    const non2xx = Number(codes[2]) + Number(codes[3]) + Number(codes[4]);
    if (failed + errored + timedOut + non2xx > 0) {
      throw new Error(
        `h2load against ${opts.address}: ${failed} failed, ${errored} errored, ${timedOut} timed out, ${non2xx} non-2xx:\n${out}`,
      );
    }
    const latencies = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => Number(line.split('\t')[2]) / 1000)
      .filter((ms) => Number.isFinite(ms));
    if (latencies.length === 0) throw new Error(`h2load completed no request against ${opts.address}`);
    const sorted = Float64Array.from(latencies).sort();
    const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[summary[4] as 'B' | 'KB' | 'MB' | 'GB'];
    const requestsPerSecond = Number(summary[2]);
    return {
      inFlight: opts.inFlight,
      connections,
      durationSeconds: opts.durationSeconds,
      requests: latencies.length,
      requestsPerSecond,
      bytesPerRequest: (Number(summary[3]) * unit) / requestsPerSecond,
      latencyMs: {
        p50: percentile(sorted, 50),
        p75: percentile(sorted, 75),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
