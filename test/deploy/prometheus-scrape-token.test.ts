/**
 * The metrics token end to end: Debian's Prometheus on loopback scrapes agentd with the
 * `authorization` block of deploy/monitoring/prometheus.yml (its credentials file moved into
 * Prometheus' temp directory). An agentd with `prometheus.bearerToken` is up when the file
 * holds its token, and down when the file is missing, holds another token or the job sends
 * none; an agentd without a token is up with the same file (it ignores the header).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus-server.js';
import { startServer, type TestServer } from '../helpers/server.js';

const PROMETHEUS_YML = resolve(import.meta.dirname, '../../deploy/monitoring/prometheus.yml');
const TOKEN = 'live-metrics-token-0123456789abcdef';

interface Authorization {
  type: string;
  credentials_file: string;
}

interface ActiveTarget {
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

/** The `authorization` of the compose job `agentd`, as written. */
function agentdAuthorization(): Authorization {
  const config = parse(readFileSync(PROMETHEUS_YML, 'utf8')) as {
    scrape_configs: Array<{ job_name: string; authorization?: Authorization }>;
  };
  const auth = config.scrape_configs.find((j) => j.job_name === 'agentd')?.authorization;
  if (!auth) throw new Error('the agentd job of prometheus.yml sends no authorization');
  return auth;
}

describe('Prometheus scraping agentd with the metrics token from its credentials file', () => {
  let guarded: TestServer;
  let open: TestServer;
  let prom: PrometheusProcess;
  const auth = agentdAuthorization();

  /** The job's target once it has been scraped (health no longer `unknown`). */
  const target = (job: string, instance: string): Promise<ActiveTarget> =>
    prom.until(`a scrape of ${instance} by ${job}`, async () => {
      const res = await fetch(`${prom.url}/api/v1/targets?state=active`);
      const body = (await res.json()) as { data: { activeTargets: ActiveTarget[] } };
      const t = body.data.activeTargets.find((a) => a.labels.job === job && a.labels.instance === instance);
      return t && t.health !== 'unknown' ? t : undefined;
    });

  beforeAll(async () => {
    guarded = await startServer({ prometheus: { host: '127.0.0.1', bearerToken: TOKEN } });
    open = await startServer({ prometheus: { host: '127.0.0.1' } });
    const guardedAt = guarded.server.metricsAddress as string;
    const openAt = open.server.metricsAddress as string;
    // Relative credentials files are read from the config file's directory (prom.dir).
    const job = (name: string, targets: string[], authorization?: Authorization) => ({
      job_name: name,
      ...(authorization ? { authorization } : {}),
      static_configs: [{ targets }],
    });
    prom = await startPrometheus(
      () => ({
        global: { scrape_interval: '1s', scrape_timeout: '1s' },
        scrape_configs: [
          job('with-file', [guardedAt, openAt], { ...auth, credentials_file: 'metrics-token' }),
          job('missing-file', [guardedAt], { ...auth, credentials_file: 'no-such-token' }),
          job('other-token', [guardedAt], { ...auth, credentials_file: 'other-token' }),
          job('no-credentials', [guardedAt]),
          job('rotated', [guardedAt], { ...auth, credentials_file: 'rotated-token' }),
        ],
      }),
      // As a Secret mount or `echo` writes it: with a trailing newline (Prometheus trims it).
      {
        'metrics-token': `${TOKEN}\n`,
        'other-token': 'not-the-metrics-token\n',
        'rotated-token': 'the-token-before-rotation\n',
      },
    );
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await guarded?.close();
    await open?.close();
  });

  it('the job as written in prometheus.yml sends the token as a Bearer credential', () => {
    expect(auth.type).toBe('Bearer');
    expect(auth.credentials_file).toMatch(/^\/etc\/prometheus\/secrets\//);
  });

  it('an agentd with a metrics token is up when the credentials file holds that token', async () => {
    const t = await target('with-file', guarded.server.metricsAddress as string);
    expect(t.health, t.lastError).toBe('up');
    const [up] = await prom.query(`up{job="with-file",instance="${guarded.server.metricsAddress}"}`);
    expect(up?.value[1]).toBe('1');
    // agentd's own series came through the authenticated scrape.
    const series = await prom.until('agentd series from the authenticated scrape', async () => {
      const s = await prom.query(
        `agentd_queue_max_depth{job="with-file",instance="${guarded.server.metricsAddress}"}`,
      );
      return s.length > 0 ? s : undefined;
    });
    expect(series).toHaveLength(1);
  });

  it('an agentd without a token is up with the same credentials file (the dev shape)', async () => {
    const t = await target('with-file', open.server.metricsAddress as string);
    expect(t.health, t.lastError).toBe('up');
  });

  it('without the credentials file the target is down: Prometheus does not scrape at all', async () => {
    const t = await target('missing-file', guarded.server.metricsAddress as string);
    expect(t.health).toBe('down');
    expect(t.lastError).toContain('no-such-token');
  });

  it('with another token, or with no credentials, agentd answers 401 and the target is down', async () => {
    for (const job of ['other-token', 'no-credentials']) {
      const t = await target(job, guarded.server.metricsAddress as string);
      expect(t.health, job).toBe('down');
      expect(t.lastError, job).toContain('401');
    }
  });

  it('Prometheus re-reads the file on each scrape: a rotated token takes effect without a restart', async () => {
    const instance = guarded.server.metricsAddress as string;
    expect((await target('rotated', instance)).lastError).toContain('401');
    writeFileSync(join(prom.dir, 'rotated-token'), `${TOKEN}\n`);
    const after = await prom.until('the rotated token to be used', async () => {
      const t = await target('rotated', instance);
      return t.health === 'up' ? t : undefined;
    });
    expect(after.lastError).toBe('');
  });
});
