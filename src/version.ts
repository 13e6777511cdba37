import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** agentd's version, from package.json (one directory above src/ and dist/). */
export const VERSION = (
  JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as {
    version: string;
  }
).version;
