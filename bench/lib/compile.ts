/**
 * Turns a TypeScript entry point into a plain ES module so it can run under
 * bare `node`, without a TypeScript loader inflating its memory footprint.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import ts from 'typescript';

/**
 * Transpiles `tsFile` (types stripped, no type checking) into a `.mjs` file
 * in a fresh temporary directory whose `node_modules` links to the project's,
 * so bare imports resolve as they would from the project. The directory is
 * removed when the process exits. Returns the path of the `.mjs` file.
 */
export function compileToTempModule(tsFile: string, projectRoot: string): string {
  const out = ts.transpileModule(readFileSync(tsFile, 'utf8'), {
    fileName: tsFile,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'agentd-bench-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const file = join(dir, basename(tsFile).replace(/\.ts$/, '.mjs'));
  writeFileSync(file, out.outputText);
  return file;
}
