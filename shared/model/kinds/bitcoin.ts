import { z } from "zod";
import { MatcherSchema } from "../matchers.js";

/** `bitcoin:` — one bitcoin-cli RPC run on the node, its JSON answer matched field by field. */
export const BitcoinSpecSchema = z.strictObject({
  // The RPC name goes into argv after the options: a leading "-" would be read as an option.
  rpc: z.string().regex(/^[A-Za-z0-9_]+$/, { message: "an RPC method name, e.g. getblockchaininfo" }),
  /** Positional RPC arguments, after the method name. */
  args: z.array(z.string()).optional(),
  /** bitcoin-cli options before the method: -datadir=…, -rpcwallet=…, -conf=…. */
  cli_args: z.array(z.string().regex(/^-/, { message: "a bitcoin-cli option, starting with '-' (e.g. -datadir=/data/bitcoin)" })).optional(),
  /** Dotted path into the result (`softforks.taproot.active`) → matcher. */
  expect: z.record(z.string(), MatcherSchema).optional(),
});
export type BitcoinSpec = z.infer<typeof BitcoinSpecSchema>;

/** `bitcoin-cli [cli_args…] RPC [args…]`: bitcoin-cli reads options only before the method. */
export function bitcoinCliArgv(spec: BitcoinSpec): string[] {
  return ["bitcoin-cli", ...(spec.cli_args ?? []), spec.rpc, ...(spec.args ?? [])];
}
