/**
 * Liveness, readiness and startup checks with the standard response shape
 * (`status`, `timestamp`, `checks{name: {status, checked_at, error?}}`, `duration_ms`).
 * Every check runs under its own timeout, so a hung dependency fails its check instead
 * of hanging the probe; probes share one result for `cacheMs`, so probes under load do
 * not stampede the dependencies.
 */
export type CheckFn = () => Promise<boolean | void> | boolean | void;

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

interface Check {
  readonly name: string;
  readonly fn: CheckFn;
  readonly timeoutMs: number;
  /** A failing non-critical check is reported as `warn` and does not fail the probe. */
  readonly critical: boolean;
}

export interface CheckOptions {
  /** Default 2000 ms. */
  readonly timeoutMs?: number;
  /** Default true. */
  readonly critical?: boolean;
}

export interface CheckResult {
  status: 'pass' | 'fail' | 'warn';
  checked_at: string;
  error?: string;
}

export interface ProbeReport {
  status: 'healthy' | 'unhealthy' | 'ready' | 'not_ready' | 'started' | 'starting';
  timestamp: string;
  checks: Record<string, CheckResult>;
  duration_ms: number;
}

const STATUS: Record<ProbeKind, [ProbeReport['status'], ProbeReport['status']]> = {
  liveness: ['healthy', 'unhealthy'],
  readiness: ['ready', 'not_ready'],
  startup: ['started', 'starting'],
};

export class HealthChecker {
  private readonly checks: Record<ProbeKind, Check[]> = { liveness: [], readiness: [], startup: [] };
  private readonly cached = new Map<ProbeKind, { at: number; report: Promise<ProbeReport> }>();

  /** @param cacheMs how long a probe result is reused by {@link probe} (0: never). */
  constructor(private readonly cacheMs = 1000) {}

  /**
   * Adds a check; it fails when it throws, returns false, or exceeds its timeout. A
   * non-critical check that fails shows `warn` with its error and leaves the probe passing.
   */
  register(kind: ProbeKind, name: string, fn: CheckFn, options: CheckOptions = {}): void {
    this.checks[kind].push({
      name,
      fn,
      timeoutMs: options.timeoutMs ?? 2000,
      critical: options.critical ?? true,
    });
  }

  /**
   * What an HTTP probe answers: the last run of the kind if it is younger than `cacheMs`
   * (concurrent probes share one run), else a new run.
   */
  probe(kind: ProbeKind): Promise<ProbeReport> {
    const now = performance.now();
    const hit = this.cached.get(kind);
    if (hit && now - hit.at < this.cacheMs) return hit.report;
    const report = this.run(kind);
    this.cached.set(kind, { at: now, report });
    return report;
  }

  /** Forgets cached results (a state change the next probe must see at once, e.g. draining). */
  invalidate(): void {
    this.cached.clear();
  }

  /** Runs every check of a kind concurrently. */
  async run(kind: ProbeKind): Promise<ProbeReport> {
    const started = performance.now();
    const results = await Promise.all(
      this.checks[kind].map(async (c) => [c.name, await runCheck(c)] as const),
    );
    const ok = results.every(([, r]) => r.status !== 'fail');
    return {
      status: STATUS[kind][ok ? 0 : 1],
      timestamp: new Date().toISOString(),
      checks: Object.fromEntries(results),
      duration_ms: Math.round(performance.now() - started),
    };
  }
}

/** Whether a report says the probe passed. */
export function probePassed(report: ProbeReport): boolean {
  return report.status === 'healthy' || report.status === 'ready' || report.status === 'started';
}

async function runCheck(check: Check): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${check.timeoutMs} ms`)), check.timeoutMs);
    });
    const value = await Promise.race([Promise.resolve().then(check.fn), timeout]);
    if (value === false)
      return {
        status: check.critical ? 'fail' : 'warn',
        checked_at: new Date().toISOString(),
        error: 'check returned false',
      };
    return { status: 'pass', checked_at: new Date().toISOString() };
  } catch (error) {
    return {
      status: check.critical ? 'fail' : 'warn',
      checked_at: new Date().toISOString(),
      error: (error as Error).message,
    };
  } finally {
    clearTimeout(timer);
  }
}
