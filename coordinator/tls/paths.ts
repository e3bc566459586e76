// Where the coordinator keeps its TLS material: STATE_DIR/tls. A module of its own so the CLI can
// find the CA without loading the certificate machinery.
import { join } from "node:path";

const TLS_DIR = "tls";
export const CA_CERT_FILE = "ca.crt";
export const CA_KEY_FILE = "ca.key";
export const SERVER_CERT_FILE = "server.crt";
export const SERVER_KEY_FILE = "server.key";

export function tlsDir(stateDir: string): string {
  return join(stateDir, TLS_DIR);
}

export function caCertPath(stateDir: string): string {
  return join(tlsDir(stateDir), CA_CERT_FILE);
}
