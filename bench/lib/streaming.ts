/**
 * The streaming measure, shared by every transport: run one
 * SendStreamingMessage for `chunks N` at a time, check the events, and report
 * the time to the first event and the event rate seen by the one subscriber.
 */
import type { StreamResponse } from '@a2a-js/sdk';
import { chunkStreamProblem } from './a2a.js';
import { median } from './stats.js';

/** What one stream delivered, with `process.hrtime.bigint()` readings. */
export interface StreamCapture {
  /** Just before the request was sent. */
  start: bigint;
  /** When the first event arrived. */
  first: bigint;
  /** When the last event arrived. */
  last: bigint;
  events: StreamResponse[];
}

/** Timings of one stream. */
export interface StreamSample {
  /** Request sent to first event, ms. */
  firstEventMs: number;
  /** Request sent to last event, ms. */
  totalMs: number;
  events: number;
  /** `events / (last - first)`. */
  eventsPerSecond: number;
}

/** The streaming measure of one server and transport. */
export interface StreamResult {
  chunks: number;
  runs: number;
  /** Medians over the runs. */
  firstEventMs: number;
  totalMs: number;
  eventsPerSecond: number;
  events: number;
  samples: StreamSample[];
}

/** Options for {@link measureStream}. */
export interface StreamMeasureOptions {
  /** Label used in errors. */
  name: string;
  /** N in `chunks N`. */
  chunks: number;
  /** Streams, one after the other. */
  runs: number;
}

function sampleOf(c: StreamCapture): StreamSample {
  const spanSeconds = Number(c.last - c.first) / 1e9;
  return {
    firstEventMs: Number(c.first - c.start) / 1e6,
    totalMs: Number(c.last - c.start) / 1e6,
    events: c.events.length,
    eventsPerSecond: spanSeconds > 0 ? c.events.length / spanSeconds : Infinity,
  };
}

/**
 * Runs `once` (one complete SendStreamingMessage of `chunks N`) `runs` times,
 * one after the other. Every stream must pass {@link chunkStreamProblem}, or
 * this throws. Reports the medians over the runs.
 */
export async function measureStream(
  once: () => Promise<StreamCapture>,
  opts: StreamMeasureOptions,
): Promise<StreamResult> {
  const samples: StreamSample[] = [];
  if (opts.runs < 1) throw new Error('measureStream needs at least one run');
  for (let i = 0; i < opts.runs; i++) {
    const capture = await once();
    const problem = chunkStreamProblem(capture.events, opts.chunks);
    if (problem) throw new Error(`${opts.name}: stream of "chunks ${opts.chunks}" is wrong: ${problem}`);
    samples.push(sampleOf(capture));
  }
  return {
    chunks: opts.chunks,
    runs: opts.runs,
    firstEventMs: median(samples.map((s) => s.firstEventMs)),
    totalMs: median(samples.map((s) => s.totalMs)),
    eventsPerSecond: median(samples.map((s) => s.eventsPerSecond)),
    events: median(samples.map((s) => s.events)),
    samples,
  };
}
