/** The server closes its outbound caller at shutdown: pools and channels do not outlive it. */
import { describe, expect, it } from 'vitest';
import { startFakePeer } from '../helpers/fake-peer.js';
import { startServer } from '../helpers/server.js';

describe('outbound calls at shutdown', () => {
  it('closes the connections to peers when the server shuts down', async () => {
    const peer = await startFakePeer();
    const t = await startServer();
    try {
      await t.server.caller.send(peer.url, 'hello');
      expect(peer.connections).toBeGreaterThan(0);
      await t.close();
      await expect(t.server.caller.send(peer.url, 'after shutdown')).rejects.toThrow(/closed/);
    } finally {
      await t.close();
      await peer.close();
    }
  });
});
