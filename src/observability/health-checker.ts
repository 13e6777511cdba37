/**
 * Liveness and readiness checks with the seed's response shape
 * (`status`, `timestamp`, `checks{name: {status, checked_at, error?}}`, `duration_ms`).
 * Every check runs under its own timeout, so a hung dependency fails its check instead
 * of hanging the probe.
 */
export type CheckFn = () => Promise<boolean | void> | boolean | void;

export type ProbeKind = 'liveness' | 'readiness';

interface Check {
  readonly name: string;
  readonly fn: CheckFn;
  readonly timeoutMs: number;
}

export interface CheckResult {
  status: 'pass' | 'fail';
  checked_at: string;
  error?: string;
}

export interface ProbeReport {
  status: 'healthy' | 'unhealthy' | 'ready' | 'not_ready';
  timestamp: string;
  checks: Record<string, CheckResult>;
  duration_ms: number;
}

export class HealthChecker {
  private readonly checks: Record<ProbeKind, Check[]> = { liveness: [], readiness: [] };

  /** Adds a check; it fails when it throws, returns false, or exceeds `timeoutMs`. */
  register(kind: ProbeKind, name: string, fn: CheckFn, timeoutMs = 2000): void {
    this.checks[kind].push({ name, fn, timeoutMs });
  }

  /** Runs every check of a kind concurrently. */
  async run(kind: ProbeKind): Promise<ProbeReport> {
    const started = performance.now();
    const results = await Promise.all(
      this.checks[kind].map(async (c) => [c.name, await runCheck(c)] as const),
    );
    const ok = results.every(([, r]) => r.status === 'pass');
    return {
      status: kind === 'liveness' ? (ok ? 'healthy' : 'unhealthy') : ok ? 'ready' : 'not_ready',
      timestamp: new Date().toISOString(),
      checks: Object.fromEntries(results),
      duration_ms: Math.round(performance.now() - started),
    };
  }
}

async function runCheck(check: Check): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${check.timeoutMs} ms`)), check.timeoutMs);
    });
    const value = await Promise.race([Promise.resolve().then(check.fn), timeout]);
    if (value === false)
      return { status: 'fail', checked_at: new Date().toISOString(), error: 'check returned false' };
    return { status: 'pass', checked_at: new Date().toISOString() };
  } catch (error) {
    return { status: 'fail', checked_at: new Date().toISOString(), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
