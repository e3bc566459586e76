// The coordinator's TLS: its server certificate for everyone, and a request for a client
// certificate that is optional at the handshake — enrolling agents and the CLI have none — but
// required of every node after enrollment, which admission checks (fleet/admission.ts).
// grpc-js's createSsl either demands a certificate of every client or never asks for one, so the
// certificate-provider form is used: it asks, and lets the connection through without one.
import * as grpc from "@grpc/grpc-js";

/**
 * Hands the same material to every listener; nothing here changes while serving. Later, not at
 * once: grpc-js subscribes to the provider before it registers the server's watcher, so an
 * update delivered inside the subscribe call would reach no server and TLS would never start.
 */
function staticProvider(caPem: string, certPem: string, keyPem: string): grpc.experimental.CertificateProvider {
  const ca = { caCertificate: Buffer.from(caPem) };
  const identity = { certificate: Buffer.from(certPem), privateKey: Buffer.from(keyPem) };
  return {
    addCaCertificateListener: (listener) => queueMicrotask(() => listener(ca)),
    removeCaCertificateListener: () => {},
    addIdentityCertificateListener: (listener) => queueMicrotask(() => listener(identity)),
    removeIdentityCertificateListener: () => {},
  };
}

/** TLS with the server's certificate; client certificates are verified against `nodeCaPem` when sent. */
export function serverCredentials(server: { certPem: string; keyPem: string }, nodeCaPem: string): grpc.ServerCredentials {
  const provider = staticProvider(nodeCaPem, server.certPem, server.keyPem);
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
