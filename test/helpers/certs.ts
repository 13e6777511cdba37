/**
 * Real X.509 certificates made in the test (@peculiar/x509, ECDSA P-256): a CA, and leaf
 * certificates it issues for servers (127.0.0.1, localhost) and clients (mTLS).
 *
 *   const ca = await TestCa.create('test CA');
 *   const server = await ca.issue({ commonName: 'agentd', server: true });
 *   const client = await ca.issue({ commonName: 'caller', dnsNames: ['caller.example'], client: true });
 *   const files = await writePem(dir, 'server', server); // { certFile, keyFile }
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { webcrypto } from 'node:crypto';
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type KeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A certificate and its private key, PEM-encoded. */
export interface Pem {
  readonly cert: string;
  readonly key: string;
  /** Colon-separated upper-case hex, as Node's `fingerprint256`. */
  readonly fingerprint256: string;
}

export interface LeafOptions {
  readonly commonName: string;
  /** DNS SANs; a server certificate always gets `localhost`. */
  readonly dnsNames?: readonly string[];
  /** IP SANs; a server certificate always gets 127.0.0.1. */
  readonly ips?: readonly string[];
  /** URI SANs (e.g. spiffe://...). */
  readonly uris?: readonly string[];
  /** Server authentication (serverAuth EKU, loopback SANs). */
  readonly server?: boolean;
  /** Client authentication (clientAuth EKU). */
  readonly client?: boolean;
  /** Validity end (default: one day from now). */
  readonly notAfter?: Date;
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

function fingerprintOf(pem: string): string {
  return new NodeX509(pem).fingerprint256;
}

let serial = 1;
const nextSerial = (): string => (serial++).toString(16).padStart(2, '0') + Date.now().toString(16);

/** A certificate authority for tests. */
export class TestCa implements Pem {
  private constructor(
    private readonly keys: KeyPair,
    private readonly certificate: x509.X509Certificate,
    readonly key: string,
  ) {}

  static async create(name = 'agentd test CA'): Promise<TestCa> {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: nextSerial(),
      name: `CN=${name}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    return new TestCa(keys, certificate, await pkcs8Pem(keys.privateKey));
  }

  get cert(): string {
    return this.certificate.toString('pem');
  }

  get fingerprint256(): string {
    return fingerprintOf(this.cert);
  }

  /** A leaf certificate signed by this CA. */
  async issue(options: LeafOptions): Promise<Pem> {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
    const dns = [...(options.dnsNames ?? []), ...(options.server ? ['localhost'] : [])];
    const ips = [...(options.ips ?? []), ...(options.server ? ['127.0.0.1'] : [])];
    const names: x509.JsonGeneralName[] = [
      ...dns.map((value) => ({ type: 'dns' as const, value })),
      ...ips.map((value) => ({ type: 'ip' as const, value })),
      ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ];
    const usages: string[] = [];
    if (options.server) usages.push(x509.ExtendedKeyUsage.serverAuth);
    if (options.client) usages.push(x509.ExtendedKeyUsage.clientAuth);
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: nextSerial(),
      subject: `CN=${options.commonName}`,
      issuer: this.certificate.subject,
      notBefore: new Date(now - 60_000),
      notAfter: options.notAfter ?? new Date(now + 86_400_000),
      publicKey: keys.publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        ...(usages.length > 0 ? [new x509.ExtendedKeyUsageExtension(usages)] : []),
        ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
      ],
    });
    const cert = certificate.toString('pem');
    return { cert, key: await pkcs8Pem(keys.privateKey), fingerprint256: fingerprintOf(cert) };
  }
}

/** A fresh temporary directory for certificate files. */
export function certDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'agentd-certs-'));
}

/**
 * Writes `pem` as `<name>.crt` and `<name>.key` in `dir`, each by rename so a reader never
 * sees a partial file (as cert-manager does). Returns the paths.
 */
export async function writePem(
  dir: string,
  name: string,
  pem: Pick<Pem, 'cert' | 'key'>,
): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await writeFile(`${keyFile}.tmp`, pem.key);
  await writeFile(`${certFile}.tmp`, pem.cert);
  await rename(`${keyFile}.tmp`, keyFile);
  await rename(`${certFile}.tmp`, certFile);
  return { certFile, keyFile };
}

/** Writes a CA certificate (or bundle) as `<name>.crt` in `dir`; returns its path. */
export async function writeCa(dir: string, name: string, ...cas: Array<{ cert: string }>): Promise<string> {
  const file = join(dir, `${name}.crt`);
  await writeFile(file, cas.map((c) => c.cert).join('\n'));
  return file;
}
