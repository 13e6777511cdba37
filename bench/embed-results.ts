/**
 * Copies each benchmark's markdown table (bench/results/<name>.md) into docs/benchmarks.md
 * between `<!-- bench:<name> -->` and `<!-- /bench:<name> -->`, so the benchmarks page shows
 * what was measured last and nothing else.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOC = join(ROOT, 'docs/benchmarks.md');
const DOC_NAME = 'docs/benchmarks.md';

let doc = readFileSync(DOC, 'utf8');
const markers = [...doc.matchAll(/<!-- bench:([a-z0-9-]+) -->/g)].map((m) => m[1] as string);
for (const name of markers) {
  const file = join(ROOT, 'bench/results', `${name}.md`);
  if (!existsSync(file)) {
    console.warn(`no ${file} yet: run the benchmark first`);
    continue;
  }
  // The results file is a standalone document; inside the page its title is a sub-heading.
  const table = readFileSync(file, 'utf8').trim().replace(/^#+ /gm, '#### ');
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const from = doc.indexOf(start) + start.length;
  const to = doc.indexOf(end);
  if (to < from) throw new Error(`${DOC_NAME} has ${start} without ${end}`);
  doc = `${doc.slice(0, from)}\n\n${table}\n\n${doc.slice(to)}`;
  console.log(`${DOC_NAME}: embedded bench/results/${name}.md`);
}
writeFileSync(DOC, doc);
