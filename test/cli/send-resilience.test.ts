/**
 * `agentd send` through the resilient caller: an agent that answers 503 twice is retried
 * with the same message (it runs once), `--retries 0` gives up at once, and `--timeout`
 * bounds an attempt against an agent that does not answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/main.js';
import { runCliCaptured, type CliRun } from '../helpers/cli.js';
import { startFakePeer, type FakePeer } from '../helpers/fake-peer.js';

const cli = (argv: string[]): Promise<CliRun> => runCliCaptured(argv);

describe('agentd send: retries and timeouts', () => {
  let peer: FakePeer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  it('retries an overloaded agent with the same message, which runs once', async () => {
    peer = await startFakePeer();
    peer.respond = (n) => (n < 2 ? { status: 503, body: {} } : undefined);
    const r = await cli(['send', peer.url, 'hello', '--retries', '2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/message from agent: ran [0-9a-f-]+/);
    const sent = peer.requests.filter((q) => q.method === 'SendMessage');
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((q) => q.messageId)).size).toBe(1);
    expect([...peer.runs.values()]).toEqual([1]);
  });

  it('gives up at once with --retries 0', async () => {
    peer = await startFakePeer();
    peer.respond = () => ({ status: 503, body: {} });
    const r = await cli(['send', peer.url, 'hello', '--retries', '0']);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stderr).toMatch(/^error: /);
    expect(peer.requests.filter((q) => q.method === 'SendMessage')).toHaveLength(1);
  });

  it('bounds each attempt with --timeout', async () => {
    peer = await startFakePeer();
    peer.respond = () => ({ status: 200, body: {}, delayMs: 5000 });
    const started = Date.now();
    const r = await cli(['send', peer.url, 'hello', '--timeout', '0.3', '--retries', '1']);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stderr).toMatch(/did not answer SendMessage within 300 ms/);
    expect(peer.requests.filter((q) => q.method === 'SendMessage')).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('refuses a bad --timeout or --retries as a usage error', async () => {
    expect((await cli(['send', 'http://127.0.0.1:9/', 'x', '--timeout', '0'])).code).toBe(EXIT.USAGE);
    expect((await cli(['send', 'http://127.0.0.1:9/', 'x', '--retries', '11'])).code).toBe(EXIT.USAGE);
  });
});
