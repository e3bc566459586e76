import { KIND_NAMES, type KindName } from "../../shared/model/kinds/index.js";
import type { CheckKind } from "./kind.js";

// Each kind's observe/evaluate is imported the first time a suite uses it: a suite of `command`
// checks never loads the XML parser, the nginx dump reader or the podman inspectors. The kinds'
// schemas, which parsing a suite needs, live in shared/model/kinds/ and are always loaded.
const LOADERS: Record<KindName, () => Promise<CheckKind<any, any>>> = {
  command: async () => (await import("./command.js")).commandCheck,
  http: async () => (await import("./http.js")).httpCheck,
  systemd: async () => (await import("./systemd.js")).systemdCheck,
  quadlet: async () => (await import("./quadlet.js")).quadletCheck,
  bats: async () => (await import("./bats.js")).batsCheck,
  tcp: async () => (await import("./tcp.js")).tcpCheck,
  file: async () => (await import("./file.js")).fileCheck,
  disk: async () => (await import("./disk.js")).diskCheck,
  memory: async () => (await import("./memory.js")).memoryCheck,
  load: async () => (await import("./load.js")).loadCheck,
  bitcoin: async () => (await import("./bitcoin.js")).bitcoinCheck,
  nginx: async () => (await import("./nginx.js")).nginxCheck,
  podman: async () => (await import("./podman.js")).podmanCheck,
};

const loaded = new Map<KindName, Promise<CheckKind<any, any>>>();

/** The check kind a suite key names, loaded once; the same object on every call. */
export function checkKind(kind: KindName): Promise<CheckKind<any, any>> {
  let found = loaded.get(kind);
  if (!found) {
    const load = LOADERS[kind];
    if (!load) return Promise.reject(new Error(`no check kind "${kind}" in this agent`));
    found = load();
    loaded.set(kind, found);
  }
  return found;
}

/** Every check kind this agent can run, by the suite key that names it (loads them all). */
export async function allCheckKinds(): Promise<Record<KindName, CheckKind<any, any>>> {
  const kinds = await Promise.all(KIND_NAMES.map(async (k) => [k, await checkKind(k)] as const));
  return Object.fromEntries(kinds) as Record<KindName, CheckKind<any, any>>;
}
