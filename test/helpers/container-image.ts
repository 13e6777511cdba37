/**
 * Container images for the deployment tests, built with podman without a registry: a
 * local Debian bookworm base made with `debootstrap --variant=minbase` plus the Node.js
 * binary running the tests (shaped like `node:20-bookworm-slim`: node and npm in
 * /usr/local), cached in podman's storage under a tag naming the Node version, so later
 * runs reuse it. podman and debootstrap come from Debian (installed as root if missing).
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureDebianTool } from './debian-tool.js';

/** Runs a command, throwing with its output when it fails. Returns stdout. */
export function run(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const res = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (status ${res.status}):\n${String(res.stdout).slice(-4000)}\n${String(res.stderr).slice(-4000)}`,
    );
  }
  return String(res.stdout);
}

/**
 * Why podman cannot be used here, or undefined when it can (installed first if needed).
 * Only a machine where it is genuinely unavailable (not root, so not installable) skips.
 */
export function podmanUnavailable(): string | undefined {
  try {
    ensureDebianTool('podman', 'podman');
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

export function imageExists(image: string): boolean {
  return spawnSync('podman', ['image', 'exists', image]).status === 0;
}

/**
 * The local base image (`localhost/agentd-test-base:bookworm-node<version>`), made on first
 * use: debootstrap (about a minute; needs deb.debian.org) + this process's Node.js and npm.
 */
export function ensureTestBaseImage(): string {
  const image = `localhost/agentd-test-base:bookworm-node${process.versions.node}`;
  if (imageExists(image)) return image;
  ensureDebianTool('debootstrap', 'debootstrap');
  const work = mkdtempSync(join(tmpdir(), 'agentd-base-'));
  try {
    const root = join(work, 'rootfs');
    run('debootstrap', ['--variant=minbase', 'bookworm', root, 'http://deb.debian.org/debian'], {
      timeout: 600_000,
    });
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    cpSync(process.execPath, join(root, 'usr/local/bin/node'));
    // npm ships beside the node binary (…/lib/node_modules/npm) in both Debian-style and
    // official Node.js layouts.
    const npmDir = [
      join(dirname(process.execPath), '../lib/node_modules/npm'),
      '/usr/lib/node_modules/npm',
      '/usr/local/lib/node_modules/npm',
    ].find((d) => existsSync(join(d, 'bin/npm-cli.js')));
    if (!npmDir) throw new Error('npm was not found next to the Node.js binary');
    cpSync(npmDir, join(root, 'usr/local/lib/node_modules/npm'), { recursive: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
    rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
    const tar = join(work, 'rootfs.tar');
    run('tar', ['-C', root, '-cf', tar, '.']);
    run('podman', [
      'import',
      '--change',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change',
      'CMD ["node"]',
      tar,
      image,
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return image;
}

/** The image's config (`podman image inspect`), the fields the tests read. */
export interface ImageConfig {
  User?: string;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Env?: string[];
  ExposedPorts?: Record<string, unknown>;
  Labels?: Record<string, string> | null;
  Healthcheck?: { Test?: string[] };
  StopSignal?: string;
}

export function inspectImage(image: string): { Config: ImageConfig } {
  const [info] = JSON.parse(run('podman', ['image', 'inspect', image])) as Array<{ Config: ImageConfig }>;
  if (!info) throw new Error(`podman image inspect ${image}: no result`);
  return info;
}
