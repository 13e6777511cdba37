/**
 * agentd's signing key (cardSigning): it signs agent cards (JWS) and webhook deliveries
 * (JWT), and its public half is served at `/.well-known/jwks.json` with any extra public
 * keys (rotation). Loaded from a PEM (PKCS#8) or JWK file; without one, an ephemeral key
 * is generated at startup (deliveries are still signed; receivers fetch the JWKS).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT, type JWK } from 'jose';

/** The JWS algorithms agentd signs with, by key type. */
export type SigningAlg = 'ES256' | 'ES384' | 'ES512' | 'RS256' | 'EdDSA';

/** A public JWK as served in the JWKS. */
export type PublicJwk = JWK & { kid: string; alg?: string; use?: string };

export interface SigningKeyOptions {
  /** PEM (PKCS#8) or JWK file. */
  readonly keyFile?: string | undefined;
  /** The `kid`; default the RFC 7638 thumbprint of the public key. */
  readonly kid?: string | undefined;
  /** JWKS (or single JWK, or PEM public key) file whose keys are served too. */
  readonly extraPublicKeysFile?: string | undefined;
}

export class SigningKey {
  readonly alg: SigningAlg;
  readonly kid: string;
  /** The public half, with `kid`, `alg` and `use: sig`. */
  readonly publicJwk: PublicJwk;
  /** Whether this key was generated at startup (no cardSigning.keyFile). */
  readonly ephemeral: boolean;
  private readonly extra: PublicJwk[];

  private constructor(
    private readonly key: KeyObject,
    options: SigningKeyOptions,
  ) {
    this.ephemeral = options.keyFile === undefined;
    this.alg = algOf(key);
    const jwk = createPublicKey(key).export({ format: 'jwk' }) as JWK;
    this.kid = options.kid ?? thumbprint(jwk);
    this.publicJwk = { ...jwk, kid: this.kid, alg: this.alg, use: 'sig' };
    this.extra = options.extraPublicKeysFile ? readPublicKeys(options.extraPublicKeysFile) : [];
  }

  /** The configured key, or a fresh P-256 key when none is configured. Throws naming the file on a bad key. */
  static load(options: SigningKeyOptions): SigningKey {
    if (options.keyFile === undefined) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return new SigningKey(privateKey, options);
    }
    let key: KeyObject;
    try {
      const text = readFileSync(options.keyFile, 'utf8');
      key = text.trimStart().startsWith('{')
        ? createPrivateKey({ key: JSON.parse(text) as JsonWebKey, format: 'jwk' })
        : createPrivateKey(text);
    } catch (error) {
      throw new Error(
        `cardSigning.keyFile ${options.keyFile}: not a readable PEM (PKCS#8) or JWK private key (${(error as Error).message})`,
      );
    }
    return new SigningKey(key, options);
  }

  /** The JWKS served at /.well-known/jwks.json: this key's public half, then the extra keys. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: [this.publicJwk, ...this.extra.filter((k) => k.kid !== this.kid)] };
  }

  /** The JWS signature (raw, as JWS carries it) over the signing input `header.payload`. */
  sign(signingInput: string): Buffer {
    const data = Buffer.from(signingInput, 'ascii');
    if (this.alg === 'EdDSA') return cryptoSign(null, data, this.key);
    const hash = this.alg === 'RS256' ? 'sha256' : `sha${this.alg.slice(2)}`;
    return cryptoSign(hash, data, { key: this.key, dsaEncoding: 'ieee-p1363' });
  }

  /**
   * The JWT of one webhook delivery: `aud` the webhook URL, `iat`/`exp` (5 minutes),
   * `iss` agentd, and the task id (`taskId`), signed with this key.
   */
  deliveryToken(url: string, taskId: string): Promise<string> {
    return new SignJWT({ taskId })
      .setProtectedHeader({ alg: this.alg, kid: this.kid, typ: 'JWT' })
      .setIssuer('agentd')
      .setAudience(url)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(this.key);
  }
}

function algOf(key: KeyObject): SigningAlg {
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'rsa') return 'RS256';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'secp521r1') return 'ES512';
  }
  throw new Error(
    `cardSigning: unsupported key type ${type ?? 'unknown'} (use EC P-256/P-384/P-521, RSA or Ed25519)`,
  );
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key. */
export function thumbprint(jwk: JWK): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === 'RSA'
        ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function readPublicKeys(file: string): PublicJwk[] {
  try {
    const text = readFileSync(file, 'utf8');
    const parsed: unknown = text.trimStart().startsWith('{')
      ? JSON.parse(text)
      : { keys: [createPublicKey(text).export({ format: 'jwk' })] };
    const list = (parsed as { keys?: JWK[] }).keys ?? [parsed as JWK];
    return list.map((jwk) => {
      const pub = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).export({ format: 'jwk' }) as JWK;
      return { ...pub, kid: jwk.kid ?? thumbprint(pub), ...(jwk.alg ? { alg: jwk.alg } : {}), use: 'sig' };
    });
  } catch (error) {
    throw new Error(
      `cardSigning.extraPublicKeysFile ${file}: not a JWKS, JWK or PEM public key (${(error as Error).message})`,
    );
  }
}
