/**
 * outbound.verifyCardsJwks: an agent's `callAgent` uses a peer only when the peer's card
 * verifies against the configured JWKS; an unsigned peer (or one signed by another key)
 * fails the call with a clear reason instead of being talked to.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { messageJson, rpc } from '../helpers/wire.js';

const dir = mkdtempSync(join(tmpdir(), 'agentd-outbound-'));
const keyFile = join(dir, 'peer-key.pem');
writeFileSync(
  keyFile,
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
);
const relay = resolve(import.meta.dirname, '../fixtures/relay-agent.mjs');

describe('callAgent with outbound.verifyCardsJwks', () => {
  let signedPeer: TestServer;
  let unsignedPeer: TestServer;
  let caller: TestServer;
  beforeAll(async () => {
    signedPeer = await startServer({ cardSigning: { keyFile } });
    unsignedPeer = await startServer();
    caller = await startServer({
      agents: [{ name: 'relay', kind: 'module', module: relay, export: 'RelayAgent' }],
      outbound: { verifyCardsJwks: `${signedPeer.url}/.well-known/jwks.json` },
    });
  });
  afterAll(async () => {
    await Promise.all([caller, signedPeer, unsignedPeer].map((t) => t.close()));
  });

  const relayTo = async (peer: TestServer, text: string): Promise<Record<string, unknown>> => {
    const res = await rpc(caller.url, 'relay', 'SendMessage', {
      message: messageJson(`relay ${peer.agentUrl('echo')} ${text}`),
    });
    return res.json.result.task as Record<string, unknown>;
  };

  it('talks to a peer whose card verifies', async () => {
    const task = await relayTo(signedPeer, 'hello signed peer');
    expect(JSON.stringify(task)).toContain('hello signed peer');
    expect((task.status as { state: string }).state).toBe('TASK_STATE_COMPLETED');
  });

  it('refuses a peer whose card is unsigned, saying so', async () => {
    const task = await relayTo(unsignedPeer, 'hello unsigned peer');
    expect((task.status as { state: string }).state).toBe('TASK_STATE_FAILED');
    const said = (task.status as { message?: { parts?: Array<{ text?: string }> } }).message?.parts?.[0]
      ?.text;
    expect(said).toContain(
      `the agent card at ${unsignedPeer.agentUrl('echo')}.well-known/agent-card.json is not signed`,
    );
    // The peer was never sent the message.
    const listed = await rpc(unsignedPeer.url, 'echo', 'ListTasks', {});
    expect(listed.json.result.tasks).toEqual([]);
  });
});
