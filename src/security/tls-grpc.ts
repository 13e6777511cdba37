/**
 * gRPC server credentials that follow a {@link TlsReloader}, like HTTPS does (tls-server.ts).
 */
import * as grpc from '@grpc/grpc-js';
import type { TlsReloader } from './tls-files.js';
import type { ServerTls } from './tls-server.js';

/**
 * A grpc-js certificate provider fed by the reloader: grpc-js asks for the identity (and
 * CA) through listeners, and applies each update with `setSecureContext` on its HTTP/2
 * server, so gRPC reloads the same way HTTPS does.
 */
class ReloaderCertificateProvider implements grpc.experimental.CertificateProvider {
  private readonly identity = new Set<grpc.experimental.IdentityCertificateUpdateListener>();
  private readonly ca = new Set<grpc.experimental.CaCertificateUpdateListener>();

  constructor(private readonly reloader: TlsReloader) {
    reloader.onChange((m) => {
      for (const l of this.identity) l({ certificate: m.cert, privateKey: m.key });
      if (m.ca) for (const l of this.ca) l({ caCertificate: m.ca });
    });
  }

  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.ca.add(listener);
    const ca = this.reloader.current.ca;
    if (ca) listener({ caCertificate: ca });
  }
  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.ca.delete(listener);
  }
  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identity.add(listener);
    const m = this.reloader.current;
    listener({ certificate: m.cert, privateKey: m.key });
  }
  removeIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identity.delete(listener);
  }
}

/**
 * gRPC server credentials that serve the reloader's material and pick up each reload
 * without a restart (grpc-js's certificate-provider credentials: it calls
 * `setSecureContext` on its HTTP/2 server for every update). The reloader has already
 * checked each update, so grpc-js never receives material it cannot load (it would stop
 * accepting connections until the next good update).
 */
export function grpcServerCredentials(tls: ServerTls): grpc.ServerCredentials {
  const provider = new ReloaderCertificateProvider(tls.reloader);
  const mtls = tls.reloader.current.ca !== undefined;
  // grpc-js 1.14 declares the parameters as (ca, identity | null, …) but hands them to the
  // constructor as (identity, ca | null, …): the first provider is the identity, the second
  // (nullable) the client CA.
  const create = grpc.experimental.createCertificateProviderServerCredentials as unknown as (
    identity: grpc.experimental.CertificateProvider,
    ca: grpc.experimental.CertificateProvider | null,
    requireClientCertificate: boolean,
  ) => grpc.ServerCredentials;
  const credentials = create(provider, mtls ? provider : null, mtls && tls.clientAuth === 'required');
  // grpc-js reads the initial material before it subscribes its server's watcher, and an
  // update delivered during that subscription reaches no watcher: subscribe once now, so
  // the material is there when the server is created (else it drops every connection).
  credentials._addWatcher(() => {});
  return credentials;
}
