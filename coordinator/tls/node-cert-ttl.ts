// How long a node certificate issued at enrollment is valid by default (coord serve --node-cert-ttl).
// A module of its own so the CLI's settings can name it without loading the certificate code.
export const DEFAULT_NODE_CERT_TTL_MS = 7 * 86_400_000;
