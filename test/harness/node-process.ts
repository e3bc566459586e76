// Running a program "on" a netns node: in the node's network namespace, with the node's own
// /etc/machine-id, boot id and hostname. Each process gets a private mount and UTS namespace with
// the same bind mounts, so an agent, a server and a one-off curl all see the same host identity.
import { execa } from "execa";
import type { Proc } from "../../scripts/local-fleet.js";

/** What makes a node look like its own host to a program. */
export interface NodeContext {
  netns: string;
  hostname: string;
  machineIdFile: string;
  bootIdFile: string;
}

/**
 * The files and the hostname come in as positional parameters ("$1".."$3") and the program as
 * "$@", so no path, name or argument is ever parsed by the shell: the script text is constant.
 */
const ENTER_NODE = 'mount --bind "$1" /etc/machine-id && mount --bind "$2" /proc/sys/kernel/random/boot_id && hostname "$3" && shift 3 && exec "$@"';

/** The argv that runs `argv` on the node; `env` is added to the program's environment only. */
export function inNodeArgv(ctx: NodeContext, argv: readonly string[], env: Readonly<Record<string, string>> = {}): string[] {
  if (!argv.length) throw new Error("inNodeArgv: empty argv");
  for (const key of Object.keys(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`node env: "${key}" is not a valid variable name`);
  }
  // env(1) treats a leading NAME=VALUE word as an assignment, so the program itself must not look like one.
  if (argv[0]?.includes("=")) throw new Error(`node program "${argv[0]}" contains "="; pass a path`);
  const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return [
    "ip", "netns", "exec", ctx.netns,
    "unshare", "--mount", "--uts", "--propagation", "private", "--",
    "sh", "-c", ENTER_NODE, "fleetgate-node", ctx.machineIdFile, ctx.bootIdFile, ctx.hostname,
    "env", ...assignments, ...argv,
  ];
}

/** A process on a node; `stop` signals the program itself (ip, unshare, sh and env all exec). */
export interface NodeProc extends Proc {
  stdout(): string;
}

/** Output kept per stream; enough for any log a test greps, bounded so a chatty server cannot grow it forever. */
const KEEP_BYTES = 1 << 20;

export function spawnInNode(name: string, ctx: NodeContext, argv: readonly string[], env: Readonly<Record<string, string>> = {}, cwd?: string): NodeProc {
  const [file, ...args] = inNodeArgv(ctx, argv, env) as [string, ...string[]];
  const child = execa(file, args, { reject: false, stdin: "ignore", buffer: false, cwd });
  const out = { stdout: "", stderr: "" };
  const keep = (stream: "stdout" | "stderr") => (c: Buffer) => {
    out[stream] = (out[stream] + c.toString()).slice(-KEEP_BYTES);
  };
  child.stdout?.on("data", keep("stdout"));
  child.stderr?.on("data", keep("stderr"));
  return {
    name,
    process: child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await child;
    },
  };
}
