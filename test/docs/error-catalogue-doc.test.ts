import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE } from '../../src/errors.js';

const DOC = resolve(import.meta.dirname, '../../docs/errors.md');

/** The table rows of docs/errors.md, by code: [JSON-RPC, HTTP, gRPC status, retryable]. */
function documentedRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const code = /^`([A-Z0-9_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (code) rows.set(code, cells.slice(2, 6));
  }
  return rows;
}

describe('docs/errors.md', () => {
  it('lists every catalogue code with its JSON-RPC code, HTTP status, gRPC status and retryability', () => {
    const rows = documentedRows();
    const expected = Object.entries(ERROR_CATALOGUE).map(([code, spec]) => [
      code,
      [
        String(spec.jsonRpc),
        String(spec.http),
        spec.grpc,
        'retryable' in spec && spec.retryable ? 'yes' : 'no',
      ],
    ]);
    expect([...rows.entries()]).toEqual(expected);
  });
});
