/**
 * Verification of peers' agent cards on outbound calls (outbound.verifyCardsJwks): the
 * trusted JWKS is loaded from the configured URL or file, kept, and reloaded (at most once
 * per cooldown) when a card names a key it does not have, so a peer's key rotation is
 * picked up without trusting anything the card itself points at.
 */
import { isAgentdError } from '../errors.js';
import { loadTrustedKeys, verifyCard, type TrustedKeys } from './card-signing.js';

export class CardVerifier {
  private keys: Promise<TrustedKeys> | undefined;
  private loadedAt = 0;

  constructor(
    private readonly source: string,
    private readonly cooldownMs = 30_000,
  ) {}

  /** Resolves when the card (its JSON as fetched) verifies; else throws AGENT_CARD_UNVERIFIED. */
  async verify(cardJson: unknown, cardUrl: string): Promise<void> {
    try {
      await verifyCard(cardJson, await this.trusted(), `the agent card at ${cardUrl}`);
    } catch (error) {
      const stale = Date.now() - this.loadedAt >= this.cooldownMs;
      if (!isAgentdError(error, 'AGENT_CARD_UNVERIFIED') || error.data?.reason !== 'unknown_kid' || !stale)
        throw error;
      this.keys = undefined;
      await verifyCard(cardJson, await this.trusted(), `the agent card at ${cardUrl}`);
    }
  }

  private trusted(): Promise<TrustedKeys> {
    if (!this.keys) {
      this.loadedAt = Date.now();
      const loading = loadTrustedKeys(this.source);
      loading.catch(() => (this.keys = undefined)); // a failed load is retried next time
      this.keys = loading;
    }
    return this.keys;
  }
}
