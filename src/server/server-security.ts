/**
 * The security material a server is assembled with, loaded before anything listens: the
 * signing key (cards, webhook JWTs), TLS of the listeners, outbound credentials, the
 * `/metrics` token, and the webhook dispatcher and peer-card verifier built from them. Bad
 * files and settings fail the start here, with nothing opened.
 */
import { resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import { readSecret } from '../config/secrets.js';
import type { AgentdConfig } from '../config/schema.js';
import { AgentCaller, type PeerObserver } from '../engine/agent-caller.js';
import type { Tracing } from '../observability/tracing.js';
import type { Authenticator } from '../security/authenticator.js';
import { CardSigner } from '../security/card-signing.js';
import { CardVerifier } from '../security/card-verifier.js';
import { Outbound } from '../security/outbound.js';
import { SigningKey } from '../security/signing-key.js';
import { AllowList } from '../security/ssrf-guard.js';
import { resolveTlsFiles, TlsReloader } from '../security/tls-files.js';
import type { ServerTls } from '../security/tls-server.js';
import { WebhookDispatcher } from '../security/webhook-dispatcher.js';

export interface ServerSecurity {
  /** Its `enabled` false: the open mode. */
  readonly authenticator: Authenticator;
  /** Signs webhook JWTs always, cards only when configured (see {@link cardSignerOf}). */
  readonly signingKey: SigningKey;
  /** TLS of the listeners (when tls.certFile is set). */
  readonly tls: ServerTls | undefined;
  readonly outbound: Outbound;
  readonly metricsToken?: string | undefined;
}

/** Loads everything but the authenticator (created first of all, by the caller). */
export async function loadServerSecurity(
  config: AgentdConfig,
  authenticator: Authenticator,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<ServerSecurity> {
  const inBase = (file: string | undefined): string | undefined => file && resolvePath(baseDir, file);
  const signingKey = SigningKey.load({
    ...config.cardSigning,
    keyFile: inBase(config.cardSigning.keyFile),
    extraPublicKeysFile: inBase(config.cardSigning.extraPublicKeysFile),
  });
  new AllowList(config.push.allow); // a bad entry fails the start
  const bearer = config.prometheus.bearerToken;
  const metricsToken = bearer === undefined ? undefined : readSecret(bearer, baseDir, env);
  // TLS files that are bad at startup fail the start (later bad files keep the old ones).
  const { certFile, keyFile, clientCaFile, clientAuth, reloadIntervalMs } = config.tls;
  const tls: ServerTls | undefined =
    certFile !== undefined && keyFile !== undefined
      ? {
          reloader: await TlsReloader.load(
            resolveTlsFiles({ certFile, keyFile, caFile: clientCaFile }, baseDir),
            logger,
            reloadIntervalMs,
          ),
          clientAuth,
        }
      : undefined;
  try {
    const outbound = await Outbound.create(config.outbound, baseDir, env);
    return { authenticator, signingKey, tls, outbound, metricsToken };
  } catch (error) {
    tls?.reloader.close();
    throw error;
  }
}

/** Closes what {@link loadServerSecurity} and the caller opened. */
export async function closeServerSecurity(security: ServerSecurity): Promise<void> {
  security.tls?.reloader.close();
  await security.outbound.close();
  security.authenticator.close();
}

/**
 * The card signer: only with a configured key. An ephemeral key would change at each
 * restart and differ between replicas (webhook JWTs are signed either way).
 */
export function cardSignerOf(config: AgentdConfig, security: ServerSecurity): CardSigner | undefined {
  return config.cardSigning.keyFile !== undefined ? new CardSigner(security.signingKey) : undefined;
}

/** Verifies peers' cards before `callAgent` uses them (outbound.verifyCardsJwks). */
export function peerCardCheck(
  config: AgentdConfig,
): ((card: unknown, url: string) => Promise<void>) | undefined {
  const jwksSource = config.outbound.verifyCardsJwks;
  if (!jwksSource) return undefined;
  const verifier = new CardVerifier(jwksSource);
  return (card, url) => verifier.verify(card, url);
}

/** Agents' outbound A2A calls with the `outbound` settings: credentials, TLS, timeouts, retries, breakers. */
export function agentCallerOf(
  config: AgentdConfig,
  security: ServerSecurity,
  tracing: Tracing,
  observer: PeerObserver | undefined,
): AgentCaller {
  return new AgentCaller({
    settings: config.outbound,
    tracing,
    observer,
    outbound: security.outbound,
    verifyCard: peerCardCheck(config),
  });
}

/** The SSRF-safe webhook sender, with per-target outbound settings and signed deliveries. */
export function webhookDispatcher(config: AgentdConfig, security: ServerSecurity): WebhookDispatcher {
  const { signingKey } = security;
  return new WebhookDispatcher({
    allow: config.push.allow,
    maxResponseBytes: config.push.maxResponseBytes,
    timeoutMs: config.push.timeoutMs,
    outbound: security.outbound,
    deliveryToken: config.push.signDeliveries
      ? (url, taskId) => signingKey.deliveryToken(url, taskId)
      : undefined,
  });
}
