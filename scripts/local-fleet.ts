// Starts a real coordinator and real agents as child processes on this machine. Used by
// `npm run demo` and by the end-to-end tests, so both exercise exactly what users run.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { caCertPath } from "../coordinator/tls/paths.js";

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the fleetgate repository root");
    dir = up;
  }
  return dir;
}

export const ROOT = repoRoot();
export const COORD_BIN = join(ROOT, "bin", "coord.js");
export const AGENT_BIN = join(ROOT, "bin", "fleetgate-agent.js");

export interface Proc {
  name: string;
  process: ResultPromise;
  /** Everything it wrote to stderr so far (pino logs and human notes). */
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `command` is the program and its leading arguments, e.g. [node, bin/coord.js]. */
function spawn(name: string, command: string[], args: string[], env: Record<string, string> = {}): Proc {
  const [file, ...leading] = command;
  const child = execa(file!, [...leading, ...args], { env: { FLEETGATE_LOG_LEVEL: "info", ...env }, reject: false, stdin: "ignore", buffer: false });
  let err = "";
  child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
  child.stdout?.resume();
  return {
    name,
    process: child,
    stderr: () => err,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await child;
    },
  };
}

/** SIGTERM, then SIGKILL if the process has not gone within `ms`. */
export async function stopWithin(p: Proc, ms = 5000): Promise<void> {
  const timer = setTimeout(() => p.process.kill("SIGKILL"), ms);
  try {
    await p.stop("SIGTERM");
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `probe` until it returns a value, at most `timeoutMs`; the loop is bounded. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Coordinator extends Proc {
  address: string;
  stateDir: string;
  /** Its CA certificate, for agents' --ca; unset when it serves plaintext (--insecure). */
  caFile?: string;
}

/** The CA of each coordinator started here, by address: an agent sent there trusts it (--ca). */
const caByAddress = new Map<string, string>();

/** `nodeArgs`: flags for node itself before the program, e.g. ["--cpu-prof"] (the load tool profiles the coordinator). */
export async function startCoordinator(stateDir: string, extraArgs: string[] = [], listen = "127.0.0.1:0", nodeArgs: string[] = []): Promise<Coordinator> {
  const proc = spawn("coordinator", [process.execPath, ...nodeArgs, COORD_BIN], ["serve", "--listen", listen, "--state-dir", stateDir, ...extraArgs]);
  const address = await waitFor("the coordinator to listen", () => {
    if (proc.process.exitCode !== null) throw new Error(`coordinator exited early:\n${proc.stderr()}`);
    return /listening on (\S+);/.exec(proc.stderr())?.[1];
  });
  const caFile = extraArgs.includes("--insecure") ? undefined : caCertPath(stateDir);
  if (caFile) caByAddress.set(address, caFile);
  else caByAddress.delete(address);
  return { ...proc, address, stateDir, caFile };
}

export interface AgentOptions {
  name: string;
  address: string;
  token: string;
  stateDir: string;
  labels?: Record<string, string>;
  env?: Record<string, string>;
  /** More `fleetgate-agent run` flags, e.g. ["--stop-grace", "1s"]. */
  args?: string[];
  /** --ca; default: the CA of the coordinator started here at `address`, if any; "" for none (a pinned CA). */
  caFile?: string;
  /** The agent program and its leading arguments; default [node, bin/fleetgate-agent.js]. The one-file agent: [dist/package/fleetgate-agent]. */
  command?: string[];
}

export function startAgent(o: AgentOptions): Proc {
  const labels = Object.entries(o.labels ?? {}).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
  const caFile = o.caFile ?? caByAddress.get(o.address);
  const ca = caFile ? ["--ca", caFile] : [];
  return spawn(`agent ${o.name}`, o.command ?? [process.execPath, AGENT_BIN], ["run", "--coordinator", o.address, "--token", o.token, "--name", o.name, "--state-dir", o.stateDir, ...ca, ...labels, ...(o.args ?? [])], o.env);
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the `coord` CLI against a coordinator, authenticated through its state dir. */
export async function coord(c: { address: string; stateDir: string }, args: string[]): Promise<CliResult> {
  const r = await execa(process.execPath, [COORD_BIN, ...args], {
    env: { FLEETGATE_COORDINATOR: c.address, FLEETGATE_STATE_DIR: c.stateDir },
    reject: false,
    stdin: "ignore",
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export interface BackgroundCli extends Proc {
  /** Everything it printed to stdout so far. */
  stdout(): string;
  /** Settles when it exits, with everything it printed. */
  result: Promise<CliResult>;
}

/** Starts the `coord` CLI without waiting for it (stdin and stdout not a terminal, as in CI). */
export function coordInBackground(c: { address: string; stateDir: string }, args: string[]): BackgroundCli {
  const child = execa(process.execPath, [COORD_BIN, ...args], {
    env: { FLEETGATE_COORDINATOR: c.address, FLEETGATE_STATE_DIR: c.stateDir },
    reject: false,
    stdin: "ignore",
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  return {
    name: `coord ${args[0] ?? ""}`,
    process: child,
    stdout: () => out,
    stderr: () => err,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await child;
    },
    result: child.then((r) => ({ exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) })),
  };
}

/** Names of the nodes the coordinator currently sees online. */
export async function onlineNodes(c: { address: string; stateDir: string }): Promise<string[]> {
  const r = await coord(c, ["nodes", "--json"]);
  if (r.exitCode !== 0) return [];
  const nodes = JSON.parse(r.stdout) as { identity: { name: string }; online?: boolean }[];
  return nodes.filter((n) => n.online).map((n) => n.identity.name);
}
