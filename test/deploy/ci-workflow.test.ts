/**
 * .github/workflows/ci.yml: triggers, the test → image → deploy graph, what each job runs,
 * and its image-pinning step, run for real on a copy of the manifests.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseManifests, ROOT } from '../helpers/k8s-manifests.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  environment?: { name: string; url?: string };
  permissions?: Record<string, string>;
  steps: Step[];
}
const text = readFileSync(join(ROOT, '.github/workflows/ci.yml'), 'utf8');
const workflow = parse(text) as { on: Record<string, unknown>; jobs: Record<string, Job> };
const jobs = workflow.jobs;
const needs = (job: Job | undefined): string[] => [job?.needs ?? []].flat();
const runs = (job: Job | undefined): string => (job?.steps ?? []).map((s) => s.run ?? '').join('\n');
const MAIN_PUSH = "github.event_name == 'push' && github.ref == 'refs/heads/main'";

describe('CI workflow', () => {
  it('runs on pushes to main and on pull requests', () => {
    expect(workflow.on).toHaveProperty('pull_request');
    expect((workflow.on.push as { branches: string[] }).branches).toEqual(['main']);
  });

  it('is test → image → deploy, the last two on main only', () => {
    expect(Object.keys(jobs).sort()).toEqual(['deploy', 'image', 'test']);
    expect(needs(jobs.test)).toEqual([]);
    expect(needs(jobs.image)).toEqual(['test']);
    expect(needs(jobs.deploy)).toEqual(expect.arrayContaining(['test', 'image']));
    expect(jobs.test?.if).toBeUndefined();
    expect(jobs.image?.if).toBe(MAIN_PUSH);
    expect(jobs.deploy?.if).toBe(MAIN_PUSH);
  });

  it('tests with .ci/run, which runs the README’s test command', () => {
    expect(runs(jobs.test)).toMatch(/(^|\s)\.ci\/run$/m);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const command = /^(npm ci && npm test)\b/m.exec(readme)?.[1];
    expect(command).toBe('npm ci && npm test');
    const script = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    for (const part of (command as string).split(' && '))
      expect(script).toMatch(new RegExp(`^${part}$`, 'm'));
  });

  it('builds the Dockerfile and pushes it to GHCR with the job’s token', () => {
    const image = jobs.image;
    expect(image?.permissions?.packages).toBe('write');
    const build = image?.steps.find((s) => s.uses?.startsWith('docker/build-push-action@'));
    expect(build?.with?.push).toBe(true);
    expect(build?.with?.context).toBe('.');
    expect(String(build?.with?.tags)).toContain(':${{ github.sha }}');
    const login = image?.steps.find((s) => s.uses?.startsWith('docker/login-action@'));
    expect(login?.with).toMatchObject({ registry: 'ghcr.io', password: '${{ secrets.GITHUB_TOKEN }}' });
    expect(runs(image)).toContain('image=ghcr.io/${GITHUB_REPOSITORY,,}');
  });

  it('deploys to the production environment with kubectl apply -k and its named secret', () => {
    const deploy = jobs.deploy;
    expect(deploy?.environment?.name).toBe('production');
    expect(runs(deploy)).toMatch(/^kubectl apply -k deploy\/k8s\/overlays\/production$/m);
    expect(runs(deploy)).toContain('rollout status deployment/mcp-agent');
    const secrets = [...text.matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]);
    expect([...new Set(secrets)].sort()).toEqual(['GITHUB_TOKEN', 'KUBE_CONFIG']);
  });

  it('its pin step really points the production overlay at the pushed image', () => {
    const step = jobs.deploy?.steps.find((s) => s.name === 'Pin the image');
    const dir = mkdtempSync(join(tmpdir(), 'agentd-ci-'));
    try {
      cpSync(join(ROOT, 'deploy'), join(dir, 'deploy'), { recursive: true });
      const script = join(dir, 'pin.sh');
      writeFileSync(script, step?.run ?? 'exit 1');
      const sha = '0123456789abcdef0123456789abcdef01234567';
      const res = spawnSync('bash', ['-e', script], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, GITHUB_SHA: sha, IMAGE: 'ghcr.io/acme/agentd' },
      });
      expect(res.status, res.stderr).toBe(0);
      const out = spawnSync('kubectl', ['kustomize', join(dir, 'deploy/k8s/overlays/production')], {
        encoding: 'utf8',
      });
      const deployment = parseManifests(out.stdout).find((o) => o.kind === 'Deployment');
      expect(deployment?.spec.template.spec.containers[0].image).toBe(`ghcr.io/acme/agentd:${sha}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
