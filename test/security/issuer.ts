/**
 * A token issuer for tests: RSA keys made here, a real JWKS (and OIDC discovery document)
 * served over HTTP on loopback, and JWTs signed with those keys. `rotate()` adds a new key
 * and `retire()` removes one, as an identity provider does during key rotation.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export const ISSUER_AUDIENCE = 'agentd-tests';

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

export class TestIssuer {
  private readonly server: Server;
  private keys: SigningKey[] = [];
  private next = 1;
  /** JWKS requests served. */
  jwksFetches = 0;
  /** While true, the JWKS answers 503 (an identity provider that is down). */
  down = false;
  url = '';

  private constructor() {
    this.server = createServer((req, res) => {
      if (req.url === '/jwks.json') {
        this.jwksFetches++;
        if (this.down) return void res.writeHead(503).end();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: this.keys.map((k) => k.jwk) }));
      } else if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: this.url, jwks_uri: `${this.url}/jwks.json` }));
      } else res.writeHead(404).end();
    });
  }

  static async start(): Promise<TestIssuer> {
    const issuer = new TestIssuer();
    await new Promise<void>((resolve) => issuer.server.listen(0, '127.0.0.1', resolve));
    issuer.url = `http://127.0.0.1:${(issuer.server.address() as AddressInfo).port}`;
    await issuer.rotate();
    return issuer;
  }

  get jwksUrl(): string {
    return `${this.url}/jwks.json`;
  }

  /** The kids currently published. */
  get kids(): string[] {
    return this.keys.map((k) => k.kid);
  }

  /** Publishes a new signing key; returns its kid. */
  async rotate(): Promise<string> {
    const kid = `k${this.next++}`;
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    this.keys.push({ kid, privateKey, jwk });
    return kid;
  }

  /** Stops publishing a key (tokens it signed no longer verify once agentd refetches). */
  retire(kid: string): void {
    this.keys = this.keys.filter((k) => k.kid !== kid);
  }

  /** A key that is not published, for tokens with a forged signature. */
  static async foreignKey(): Promise<CryptoKey> {
    return (await generateKeyPair('RS256')).privateKey;
  }

  /**
   * A signed JWT. Defaults: this issuer, the test audience, subject `alice`, valid for an
   * hour, signed with the newest key.
   */
  async token(
    claims: JWTPayload & { scope?: string },
    options: { kid?: string; key?: CryptoKey; expiresIn?: number; issuer?: string; audience?: string } = {},
  ): Promise<string> {
    const signing = options.kid
      ? this.keys.find((k) => k.kid === options.kid)
      : this.keys[this.keys.length - 1];
    if (!signing) throw new Error(`no key ${options.kid}`);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ sub: 'alice', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: signing.kid })
      .setIssuer(options.issuer ?? this.url)
      .setAudience(options.audience ?? ISSUER_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + (options.expiresIn ?? 3600))
      .sign(options.key ?? signing.privateKey);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

/** An HS256 JWT signed with a shared secret. */
export async function hsToken(secret: string, claims: JWTPayload, expiresIn = 3600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(new TextEncoder().encode(secret));
}
