// How bitcoin-cli reports its answer and its trouble (src/bitcoin-cli.cpp; recorded and
// constructed outputs in test/fixtures/bitcoin-cli/). An RPC error prints
// "error code: N\nerror message:\nMSG" to stderr and exits abs(N); a failure before any answer
// (no connection, bad credentials) prints "error: WHAT" and exits 1.
import { preview } from "../../shared/model/matchers.js";
import { firstLine } from "./kind.js";

/** RPC_IN_WARMUP: bitcoind answers but is still starting (loading the block index, wallets…). */
const RPC_IN_WARMUP = -28;

function rpcErrorMessage(text: string): string {
  const at = text.indexOf("error message:\n");
  if (at < 0) return "(no message)";
  // Some messages span lines (usage text); the summary keeps one line, the evidence keeps all.
  const message = text.slice(at + "error message:\n".length).replace(/\s+/g, " ").trim();
  return message.length > 160 ? `${message.slice(0, 159)}…` : message || "(no message)";
}

/** One line a person can act on, for a bitcoin-cli run that exited non-zero. */
export function describeCliError(stderr: string, exitCode: number | null): string {
  const code = /^error code: (-?\d+)[ \t]*$/m.exec(stderr)?.[1];
  if (code !== undefined) {
    // Warm-up is a passing state of a healthy node, not a broken RPC: say so, so nobody debugs it.
    if (Number(code) === RPC_IN_WARMUP) return `bitcoind is warming up (RPC ${code}: ${rpcErrorMessage(stderr)})`;
    return `RPC error ${code}: ${rpcErrorMessage(stderr)}`;
  }
  // Worded the same from v22 to master; only the "Use bitcoin-cli -help" line came and went.
  if (stderr.includes("Could not connect to the server")) return `cannot connect to bitcoind: ${firstLine(stderr)}`;
  const why = firstLine(stderr);
  return `bitcoin-cli exit ${exitCode}${why ? `: ${why}` : ""}`;
}

/**
 * The RPC result from stdout. bitcoin-cli prints objects, arrays, numbers and booleans as JSON,
 * but a string result bare (getbestblockhash) and a null result as nothing.
 */
export function parseCliResult(stdout: string): unknown {
  if (stdout.trim() === "") return null;
  try {
    return JSON.parse(stdout);
  } catch {
    return stdout.replace(/\n$/, "");
  }
}

/**
 * v28 turned `warnings` (getblockchaininfo, getnetworkinfo, getmininginfo) from one string into a
 * list of strings. A suite must hold on a fleet that mixes versions, so a warnings value is read
 * both ways: as the list, and as its lines joined into one text ("" when there are none).
 */
export function readings(path: string, value: unknown): unknown[] {
  if (path.split(".").at(-1) !== "warnings") return [value];
  if (typeof value === "string") return [value, value === "" ? [] : [value]];
  if (Array.isArray(value) && value.every((w) => typeof w === "string")) return [value, value.join("\n")];
  return [value];
}

/** "saw …" for a value the RPC answered, or did not. */
export function shown(value: unknown): string {
  return value === undefined ? "nothing" : preview(value);
}
