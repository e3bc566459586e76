// ip, nft and tc as the harness runs them: argv arrays, bounded in time, and a failure that says
// which command failed and what it printed.
import { execa, execaSync } from "execa";

const COMMAND_TIMEOUT_MS = 10_000;

export interface HostCommandOptions {
  /** Fed to stdin, e.g. an nft script for `nft -f -`. */
  input?: string;
  /** Return undefined instead of throwing (for teardown of things that may already be gone). */
  allowFailure?: boolean;
}

/** Runs one command to completion and returns its stdout. */
export async function host(argv: string[], o: HostCommandOptions = {}): Promise<string | undefined> {
  const [file, ...args] = argv as [string, ...string[]];
  const r = await execa(file, args, { input: o.input, stdin: o.input === undefined ? "ignore" : "pipe", reject: false, timeout: COMMAND_TIMEOUT_MS });
  if (r.exitCode === 0 && !r.timedOut) return String(r.stdout);
  if (o.allowFailure) return undefined;
  const why = r.timedOut ? `timed out after ${COMMAND_TIMEOUT_MS} ms` : `exit ${r.exitCode ?? r.signal ?? "?"}`;
  throw new Error(`netns harness: \`${argv.join(" ")}\` failed (${why}): ${String(r.stderr || r.stdout || r.message).trim()}`);
}

/** Best effort and synchronous: only for the process-exit safety net, where nothing async runs. */
export function hostSync(argv: string[]): string | undefined {
  const [file, ...args] = argv as [string, ...string[]];
  const r = execaSync(file, args, { reject: false, stdin: "ignore", timeout: COMMAND_TIMEOUT_MS });
  return r.exitCode === 0 ? String(r.stdout) : undefined;
}

/** Names of the network namespaces `ip netns list` shows. */
export function parseNetnsList(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter(Boolean);
}

/** Interface names from `ip -o link show` ("4: fg-abcde-1h@if3: <…>"). */
export function parseLinkNames(text: string): string[] {
  return text
    .split("\n")
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}
