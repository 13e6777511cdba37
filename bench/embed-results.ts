/**
 * Copies each benchmark's markdown table (bench/results/<name>.md) into README.md between
 * `<!-- bench:<name> -->` and `<!-- /bench:<name> -->`, so the README shows what was
 * measured last and nothing else.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const README = join(ROOT, 'README.md');

let readme = readFileSync(README, 'utf8');
const markers = [...readme.matchAll(/<!-- bench:([a-z0-9-]+) -->/g)].map((m) => m[1] as string);
for (const name of markers) {
  const file = join(ROOT, 'bench/results', `${name}.md`);
  if (!existsSync(file)) {
    console.warn(`no ${file} yet: run the benchmark first`);
    continue;
  }
  // The results file is a standalone document; inside the README its title is a sub-heading.
  const table = readFileSync(file, 'utf8').trim().replace(/^#+ /gm, '#### ');
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const from = readme.indexOf(start) + start.length;
  const to = readme.indexOf(end);
  if (to < from) throw new Error(`README.md has ${start} without ${end}`);
  readme = `${readme.slice(0, from)}\n\n${table}\n\n${readme.slice(to)}`;
  console.log(`README.md: embedded bench/results/${name}.md`);
}
writeFileSync(README, readme);
