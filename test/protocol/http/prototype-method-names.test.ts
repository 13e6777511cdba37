/**
 * Method names that are also `Object.prototype` members (`constructor`, `__proto__`, ...)
 * are unknown methods like any other: -32601 on JSON-RPC, in the v1.0 and the v0.3 form,
 * and `/metrics` goes on answering a valid exposition afterwards (a plain-object lookup
 * used to turn them into a function-valued label that broke every later scrape).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDebianTool } from '../../helpers/debian-tool.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { expectRpcError, postRpc, rpcBody } from '../../helpers/wire.js';

const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty'];

describe('Object.prototype names as JSON-RPC methods', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(() => t.close());

  for (const name of PROTOTYPE_NAMES) {
    it(`"${name}" and "tasks/${name}" → -32601 METHOD_NOT_FOUND`, async () => {
      expectRpcError(await postRpc(t.url, 'echo', rpcBody(name, {}, 1)), {
        code: -32601,
        reason: 'METHOD_NOT_FOUND',
        id: 1,
        messageIncludes: [name],
      });
      // Sent with `A2A-Version: 0.3` the bare name goes to the v0.3 compat layer.
      const legacy = await postRpc(t.url, 'echo', rpcBody(name, {}, 2), { 'a2a-version': '0.3' });
      expect(legacy.status, legacy.text).toBe(200);
      expect(legacy.json.error.code, legacy.text).toBe(-32601);
      const slashed = await postRpc(t.url, 'echo', rpcBody(`tasks/${name}`, {}, 3));
      expect(slashed.status, slashed.text).toBe(200);
      expect(slashed.json.error.code, slashed.text).toBe(-32601);
    });
  }

  it('/metrics still answers 200 with an exposition that promtool accepts', async () => {
    for (const name of PROTOTYPE_NAMES) await postRpc(t.url, 'echo', rpcBody(name, {}));
    const res = await fetch(`http://${t.server.metricsAddress}/metrics`);
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(text).toMatch(/a2a_requests_total\{[^}]*method="unknown"/);
    ensureDebianTool('promtool', 'prometheus');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);
  });
});
