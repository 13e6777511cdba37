/**
 * SLOW TEST, the slowest of the suite: a podman build of the Dockerfile (seconds with a warm
 * cache, about a minute after a source change, several minutes on a first run that makes the
 * base image with debootstrap), hence the long timeouts below.
 *
 * Where it runs: in CI (`CI=true`, as GitHub Actions sets it) podman is required and its
 * absence FAILS the test; on a developer machine without podman it is skipped, with the reason.
 *
 * The Dockerfile, built for real with podman (chroot isolation, on a local debootstrap
 * base with this machine's Node.js) and then run: the image's rootfs is mounted read-only,
 * its own entrypoint and command start as its USER in a chroot, and the probes answer.
 * (`podman run` is not used: the container runtime cannot set rlimits on this machine.)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureTestBaseImage,
  inspectImage,
  podmanUnavailable,
  run,
  type ImageConfig,
} from '../helpers/container-image.js';
import { freePort } from '../helpers/redis-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const IMAGE = 'localhost/agentd:deploy-test';
/** The build (and, on a first run, the debootstrap base): the slow part. */
const BUILD_TIMEOUT_MS = 20 * 60_000;
const inCi = /^(true|1)$/i.test(process.env.CI ?? '');
const unavailable = podmanUnavailable();
if (unavailable && !inCi)
  console.warn(
    `image test skipped: podman is unavailable on this machine (with CI=true this fails instead):\n${unavailable}`,
  );

describe.skipIf(unavailable !== undefined && !inCi)(
  'container image [slow] (podman build, then run from its rootfs)',
  () => {
    let config: ImageConfig;
    let rootfs: string;
    let buildSeconds = 0;

    beforeAll(() => {
      // CI must build the image: no podman there is a failure of every test below, not a skip.
      if (unavailable)
        throw new Error(`CI=true: the image test must run, but podman is unavailable:\n${unavailable}`);
      const base = ensureTestBaseImage();
      const started = Date.now();
      const args = [
        'build',
        '--isolation',
        'chroot',
        '--format',
        'docker',
        '--build-arg',
        `BASE_IMAGE=${base}`,
      ];
      // A TLS-intercepting proxy's CA, if this machine uses one, reaches npm as a build secret.
      const ca = process.env.NODE_EXTRA_CA_CERTS;
      if (ca && existsSync(ca)) args.push('--secret', `id=extra_ca,src=${ca}`);
      const previous = imageId(IMAGE);
      run('podman', [...args, '-t', IMAGE, ROOT], { timeout: BUILD_TIMEOUT_MS });
      // The image this run replaced (by its id; its layers the new one shares stay cached).
      if (previous && previous !== imageId(IMAGE))
        spawnSync('podman', ['rmi', previous], { stdio: 'ignore' });
      buildSeconds = (Date.now() - started) / 1000;
      console.warn(`podman build took ${buildSeconds.toFixed(1)} s`);
      config = inspectImage(IMAGE).Config;
      rootfs = run('podman', ['image', 'mount', IMAGE]).trim();
    }, BUILD_TIMEOUT_MS);

    afterAll(() => {
      if (rootfs) run('podman', ['image', 'unmount', IMAGE]);
    });

    it('runs as a numeric non-root user, under tini, exposing 8080 8081 9090, with OCI labels', () => {
      expect(config.User).toMatch(/^[1-9]\d*:[1-9]\d*$/);
      expect(config.Entrypoint?.[0]).toBe('/usr/bin/tini');
      expect(existsSync(join(rootfs, 'usr/bin/tini'))).toBe(true);
      expect(Object.keys(config.ExposedPorts ?? {}).sort()).toEqual(['8080/tcp', '8081/tcp', '9090/tcp']);
      expect(config.Labels?.['org.opencontainers.image.title']).toBe('agentd');
      expect(config.Labels?.['org.opencontainers.image.licenses']).toBe('Apache-2.0');
      expect(config.Labels?.['org.opencontainers.image.version']).toBe(
        (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      );
    });

    it('holds production dependencies only, and no test files or sources', () => {
      const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean }>;
      };
      const devInImage = Object.entries(lock.packages)
        .filter(([path, p]) => path !== '' && p.dev === true)
        .map(([path]) => path)
        .filter((path) => existsSync(join(rootfs, 'app', path)));
      expect(devInImage).toEqual([]);
      // Some production dependency really is there (the check above looks in the right place).
      expect(existsSync(join(rootfs, 'app/node_modules/fastify/package.json'))).toBe(true);
      expect(readdirSync(join(rootfs, 'app')).sort()).toEqual([
        'bin',
        'config',
        'dist',
        'node_modules',
        'package.json',
      ]);
      const tests = run('find', [
        join(rootfs, 'app'),
        '-regextype',
        'posix-extended',
        '(',
        '-regex',
        '.*\\.(test|spec)\\.([cm]?[jt]s|d\\.[cm]?ts)$',
        '-o',
        '-name',
        '__tests__',
        ')',
      ]).trim();
      expect(tests).toBe('');
    });

    it('starts from its own entrypoint as its USER on a read-only root, and answers /health /ready /startup and /metrics', async () => {
      const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
      const [uid, gid] = (config.User ?? '').split(':');
      const env = [
        ...(config.Env ?? []),
        'TINI_SUBREAPER=1',
        'AGENTD_HOST=127.0.0.1',
        `HTTP_PORT=${http}`,
        `GRPC_PORT=${grpc}`,
        `METRICS_PORT=${metrics}`,
        'METRICS_HOST=127.0.0.1',
        'AGENTD_SHUTDOWN_DELAY_MS=0',
      ];
      const command = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
      // A private mount namespace: the rootfs bind-mounted read-only, /proc, /dev and a
      // tmpfs /tmp on top (what a pod with readOnlyRootFilesystem and an emptyDir gets).
      const script = [
        'set -e',
        'R="$1"; shift',
        'mount --bind "$R" "$R"',
        'mount -o remount,bind,ro "$R"',
        'mount -t proc proc "$R/proc"',
        'mount --rbind /dev "$R/dev"',
        'mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"',
        `exec chroot --userspec=${uid}:${gid} "$R" /usr/bin/env -i --chdir=${config.WorkingDir ?? '/'} "$@"`,
      ].join('\n');
      const child: ChildProcess = spawn(
        'unshare',
        ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', rootfs, ...env, ...command],
        { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      try {
        const base = `http://127.0.0.1:${http}`;
        // The start-up banner (stderr) says the listeners are bound.
        await untilOutput(/^\s+HTTP\s+http:\/\//m, child, exited, () => output);
        for (const path of ['/health', '/ready', '/startup']) {
          const res = await fetch(`${base}${path}`);
          expect(res.status, path).toBe(200);
          expect(((await res.json()) as { status: string }).status, path).toMatch(
            /^(healthy|ready|started)$/,
          );
        }
        const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
        expect(text).toMatch(/^active_workflows 0$/m);
        // The server's process (node) runs as the image's uid, not root.
        const node = descendants(child.pid as number).find((p) => p.comm === 'node');
        expect(node, 'node process in the chroot').toBeDefined();
        expect(node?.uid).toBe(Number(uid));
        expect(node?.uid).not.toBe(0);
        // The image's HEALTHCHECK command works against the running server, with the image's node.
        const hc = inspectHealthcheck();
        expect(hc[0]).toBe('CMD');
        const probe = spawn('chroot', [
          '--userspec=' + `${uid}:${gid}`,
          rootfs,
          '/usr/bin/env',
          `HTTP_PORT=${http}`,
          ...hc.slice(1),
        ]);
        expect(await new Promise((res) => probe.on('exit', res))).toBe(0);
        // SIGTERM reaches node through tini: a clean drain and exit 0.
        // (unshare, sh, chroot and env exec'd in turn: the spawned pid is tini's.)
        process.kill(child.pid as number, 'SIGTERM');
        expect(await exited).toBe(0);
      } finally {
        if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGKILL');
      }
    }, 60_000);
  },
);

function imageId(image: string): string | undefined {
  const res = spawnSync('podman', ['image', 'inspect', '--format', '{{.Id}}', image], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : undefined;
}

function inspectHealthcheck(): string[] {
  const [info] = JSON.parse(run('podman', ['image', 'inspect', IMAGE])) as Array<{
    Healthcheck?: { Test?: string[] };
  }>;
  return info?.Healthcheck?.Test ?? [];
}

/** The processes descended from `root`, with their uid and name. */
function descendants(root: number): Array<{ pid: number; uid: number; comm: string }> {
  const all: Array<{ pid: number; ppid: number; uid: number; comm: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      all.push({ pid: Number(entry), ppid, uid, comm });
    } catch {
      // the process ended while we looked
    }
  }
  const found = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all)
      if (found.has(p.ppid) && !found.has(p.pid)) {
        found.add(p.pid);
        grew = true;
      }
  }
  return all.filter((p) => p.pid !== root && found.has(p.pid));
}

/** Resolves once the output matches; fails at once, with the output, if the process exits first. */
function untilOutput(
  pattern: RegExp,
  child: ChildProcess,
  exited: Promise<number | null>,
  output: () => string,
): Promise<void> {
  return new Promise<void>((res, rej) => {
    const check = (): void => {
      if (pattern.test(output())) res();
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    check();
    void exited.then((code) => rej(new Error(`the image's entrypoint exited (code ${code}):\n${output()}`)));
  });
}
