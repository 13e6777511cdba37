/**
 * Turns TypeScript entry points into plain ES modules so they can run under
 * bare `node`, without a TypeScript loader inflating their memory footprint.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** The per-process output directory, created on first use and removed on exit. */
let outDir: string | undefined;

function outputDir(projectRoot: string): string {
  if (outDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'agentd-bench-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    // Bare imports resolve through this link, as they would from the project.
    symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    // The outputs keep their `.js` names so relative `./x.js` specifiers resolve unchanged.
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    outDir = dir;
  }
  return outDir;
}

/** The `.ts` sources of the relative imports (`./x.js`, `../y.js`) of a module. */
function relativeImports(tsFile: string, source: string): string[] {
  return ts
    .preProcessFile(source, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith('./') || spec.startsWith('../'))
    .map((spec) => resolve(dirname(tsFile), spec.replace(/\.js$/, '.ts')));
}

/**
 * Transpiles `tsFile` and, recursively, every module it imports by a relative
 * path (types stripped, no type checking) into one temporary directory per
 * process that mirrors the project layout, has `"type": "module"` and links
 * the project's `node_modules`, so imports resolve as they would from the
 * project. `tsFile` must lie inside `projectRoot`. The directory is removed
 * when the process exits. Returns the path of the entry's `.js` file.
 */
export function compileToTempModule(tsFile: string, projectRoot: string): string {
  const dir = outputDir(projectRoot);
  const pending = [resolve(tsFile)];
  const done = new Set<string>();
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (done.has(file)) continue;
    done.add(file);
    const rel = relative(projectRoot, file);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${file} is outside ${projectRoot}`);
    const source = readFileSync(file, 'utf8');
    const out = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    const target = join(dir, rel.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, out.outputText);
    pending.push(...relativeImports(file, source));
  }
  return join(dir, relative(projectRoot, resolve(tsFile)).replace(/\.ts$/, '.js'));
}
