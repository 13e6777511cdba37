/**
 * Tools the tests need beyond npm (redis-server, promtool): used from PATH, else installed
 * from Debian with apt-get when running as root; otherwise the run fails with the command
 * to install them.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const ensured = new Set<string>();

/** Makes sure `command` can be run, installing Debian's `debianPackage` as root if needed. */
export function ensureDebianTool(command: string, debianPackage: string): void {
  if (ensured.has(command) || onPath(command)) {
    ensured.add(command);
    return;
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${command} is not installed and the tests are not running as root, so they cannot install it.\n` +
        `  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y ${debianPackage}\n` +
        'then run the tests again.',
    );
  }
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', debianPackage]]) {
    const res = spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 600_000,
    });
    if (res.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (status ${res.status})`);
  }
  if (!onPath(command)) throw new Error(`apt-get installed ${debianPackage} but ${command} is not on PATH`);
  ensured.add(command);
}
