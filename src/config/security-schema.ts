/**
 * The security sections of the configuration: authentication, TLS, rate limits, card
 * signing, and what outbound calls (A2A peers, webhooks) may reach and present. Every
 * section is off unless configured; see docs/security.md for a hardened example.
 */
import { z } from 'zod';

/** A secret: a literal string, or read from an environment variable or a file (e.g. a mounted Secret). */
export const secretSchema = z.union([
  z.string(),
  z.strictObject({ env: z.string().min(1) }),
  z.strictObject({ file: z.string().min(1) }),
]);

const scopeList = z.array(z.string().min(1)).default([]);

const apiKeyEntry = z.strictObject({
  /** The key itself (a secret), or its SHA-256 hex digest so the config holds no key at all. */
  key: secretSchema.optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits')
    .optional(),
  /** The principal the key authenticates as (owner of the tasks it creates). */
  principal: z.string().min(1),
  scopes: scopeList,
});

export const authSchema = z
  .strictObject({
    /**
     * API keys sent as `X-API-Key`. API_KEY (env) adds one key for principal `api-key` with
     * every scope; a key file (apiKeysFile, AGENTD_API_KEYS_FILE) adds many.
     */
    apiKeys: z
      .array(apiKeyEntry)
      .default([])
      .superRefine((keys, ctx) =>
        keys.forEach((k, i) => {
          if ((k.key === undefined) === (k.sha256 === undefined))
            ctx.addIssue({ code: 'custom', path: [i], message: 'give exactly one of key or sha256' });
        }),
      ),
    /** YAML or JSON file with a list of `{key | sha256, principal, scopes}`; re-read when it changes. */
    apiKeysFile: z.string().min(1).optional(),
    jwt: z
      .strictObject({
        /** HS256 shared secret (JWT_SECRET). */
        secret: secretSchema.optional(),
        /** JWKS of an issuer signing asymmetric JWTs (JWT_JWKS_URL); refetched on an unknown `kid`. */
        jwksUrl: z.url().optional(),
        /** Expected `iss` (JWT_ISSUER); with `discovery` its OIDC metadata names the JWKS. */
        issuer: z.string().min(1).optional(),
        /** Expected `aud` (JWT_AUDIENCE). */
        audience: z.string().min(1).optional(),
        /** Find jwksUrl from `<issuer>/.well-known/openid-configuration`. */
        discovery: z.boolean().default(false),
        clockToleranceSeconds: z.number().min(0).max(300).default(30),
        /** Claim holding the principal id. */
        principalClaim: z.string().min(1).default('sub'),
        /** At least this long between two JWKS refetches caused by unknown `kid`s. */
        jwksCooldownSeconds: z.number().min(0).default(30),
      })
      .prefault({}),
    /** mTLS: a verified client certificate (tls.clientCaFile) authenticates as its subject. */
    mtls: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** `san` (first DNS/URI SAN, else the CN) or `subject` (the CN). */
        principalFrom: z.enum(['san', 'subject']).default('san'),
        scopes: scopeList,
      })
      .prefault({}),
    /** The scope that sees and manages every principal's tasks. */
    adminScope: z.string().min(1).default('agentd:admin'),
    /**
     * With no scheme configured agentd is open (every caller may do everything; a warning is
     * logged when listening beyond loopback). `true` refuses to start without a scheme.
     */
    required: z.boolean().default(false),
  })
  .prefault({});

const tlsFiles = {
  /** PEM certificate chain (TLS_CERT_FILE); HTTP and gRPC serve TLS when set. */
  certFile: z.string().min(1).optional(),
  /** PEM private key (TLS_KEY_FILE). */
  keyFile: z.string().min(1).optional(),
};

export const tlsSchema = z
  .strictObject({
    ...tlsFiles,
    /** CA bundle that client certificates must chain to (TLS_CLIENT_CA_FILE): enables mTLS. */
    clientCaFile: z.string().min(1).optional(),
    /** With clientCaFile: `required` (no certificate, no connection) or `optional` (other schemes allowed). */
    clientAuth: z.enum(['required', 'optional']).default('required'),
    /** How often the files are checked for changes (cert-manager rotation); reloaded without a restart. */
    reloadIntervalMs: z.number().int().min(100).default(10_000),
  })
  .prefault({})
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
    path: ['certFile'],
    message: 'certFile and keyFile go together',
  })
  .refine((t) => t.clientCaFile === undefined || t.certFile !== undefined, {
    path: ['clientCaFile'],
    message: 'mTLS needs TLS: set certFile and keyFile too',
  });

const bucket = z.strictObject({
  /** Sustained requests per second. */
  ratePerSecond: z.number().positive(),
  /** Requests allowed at once above the sustained rate. */
  burst: z.number().int().min(1),
});

const limitSet = {
  /** Per authenticated principal (anonymous callers count per IP only). */
  perPrincipal: bucket.optional(),
  /** Per client IP (the socket's address; `trustedProxies` takes it from X-Forwarded-For). */
  perIp: bucket.optional(),
};

export const rateLimitSchema = z
  .strictObject({
    ...limitSet,
    /** Tighter limits for one agent's A2A endpoints, by agent name. */
    agents: z.record(z.string(), z.strictObject(limitSet)).default({}),
    /**
     * Proxies you run in front of agentd, each appending to X-Forwarded-For: the client IP is
     * the n-th address from the right (the socket's address when there are fewer). 0: the socket's.
     */
    trustedProxies: z.number().int().min(0).optional(),
    /** Alias for `trustedProxies: 1` (one proxy in front). */
    trustProxy: z.boolean().default(false),
    /**
     * Buckets one replica keeps in memory (embedded store), least recently used evicted
     * first; with Redis the buckets live there and expire once full again.
     */
    maxBuckets: z.number().int().min(1).default(100_000),
  })
  .refine((r) => !(r.trustProxy && r.trustedProxies !== undefined), {
    path: ['trustProxy'],
    message: 'trustProxy is an alias for trustedProxies: 1; set only trustedProxies',
  })
  .prefault({});

export const cardSigningSchema = z
  .strictObject({
    /** PEM (PKCS#8) or JWK file with the private key cards and webhook JWTs are signed with. */
    keyFile: z.string().min(1).optional(),
    /** The JWS `kid`; default the key's JWK thumbprint. */
    kid: z.string().min(1).optional(),
    /** Public keys served at /.well-known/jwks.json besides the signing key's (rotation). */
    extraPublicKeysFile: z.string().min(1).optional(),
  })
  .prefault({});

const outboundTls = {
  /** CA bundle trusted for the target's server certificate (besides the system CAs). */
  caFile: z.string().min(1).optional(),
  /** Client certificate and key presented to the target (mTLS). */
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
};

export const outboundSchema = z
  .strictObject({
    ...outboundTls,
    /** Credentials and TLS per target: the first entry whose `url` prefixes the request URL applies. */
    targets: z
      .array(
        z.strictObject({
          url: z.url(),
          ...outboundTls,
          apiKey: secretSchema.optional(),
          bearerToken: secretSchema.optional(),
          headers: z.record(z.string(), secretSchema).default({}),
          /** How long one attempt of an A2A call to this target may take (default: callTimeoutMs). */
          timeoutMs: z.number().int().min(1).optional(),
        }),
      )
      .default([]),
    /** Verify the signature of every peer's agent card against this JWKS (URL or file). */
    verifyCardsJwks: z.string().min(1).optional(),
    /** How long one attempt of an A2A call to another agent may take before PEER_TIMEOUT. */
    callTimeoutMs: z.number().int().min(1).default(30_000),
    /** Keep-alive connections per peer origin at most (HTTP transports). */
    maxConnectionsPerPeer: z.number().int().min(1).default(32),
    /** Retries of A2A calls that failed for a passing reason (unreachable, overloaded, timed out). */
    retry: z
      .strictObject({
        /** Attempts in all, the first included (1: no retry). */
        attempts: z.number().int().min(1).default(3),
        /** Delay before the first retry; doubled each time, with jitter. */
        initialDelayMs: z.number().int().min(0).default(100),
        /** Longest delay between attempts, also the cap on a peer's Retry-After. */
        maxDelayMs: z.number().int().min(0).default(5000),
      })
      .prefault({}),
    /** Circuit breaker per peer agent: after `threshold` failures in a row, calls fail fast. */
    breaker: z
      .strictObject({
        threshold: z.number().int().min(1).default(5),
        /** How long the breaker stays open before one trial call is let through. */
        halfOpenAfterMs: z.number().int().min(1).default(10_000),
      })
      .prefault({}),
  })
  .prefault({});

/**
 * Where webhooks may go (fields of the `push` section). By default loopback, private,
 * link-local, CGNAT, multicast, unspecified and metadata addresses are refused, checked
 * on the address actually connected to.
 */
export const webhookFields = {
  /** Hosts (`name`, `name:port`) and CIDRs (`10.0.0.0/8`, `::1/128`) allowed despite the rules (AGENTD_PUSH_ALLOW). */
  allow: z.array(z.string().min(1)).default([]),
  /** Response bodies read at most this far (then the connection is dropped). */
  maxResponseBytes: z.number().int().min(0).default(65_536),
  /** Add `Authorization: Bearer <JWT>` signed with cardSigning's key (its JWKS is served). */
  signDeliveries: z.boolean().default(true),
};
