// What every coord subcommand shares: connection options, a client for one command, printing,
// and option parsers. Subcommand groups register themselves with these.
import { InvalidArgumentError, type Command } from "commander";
import { parseDuration } from "../../shared/durations.js";
import { FleetgateError } from "../../shared/errors.js";
import { ControlClient, DEFAULT_COORDINATOR, type ConnectionFlags } from "./client.js";

export type { ConnectionFlags };

export function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** A duration flag read in an action (its default is text too): a bad one names the flag. */
export function durationFlag(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new FleetgateError("bad_input", `${flag}: ${(err as Error).message}`);
  }
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number >= 1");
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number >= 0");
  return n;
}

/** Collects a repeatable option into an array. */
export function repeatable(value: string, prev: string[]): string[] {
  return [...prev, value];
}

/** The options every command that talks to a running coordinator takes. */
export function connected(cmd: Command): Command {
  return cmd
    .option("--coordinator <host:port>", `coordinator address, or several sharing a PostgreSQL store: a:7400,b:7400 (tried in order; a standby sends the CLI to the active one) (env FLEETGATE_COORDINATOR, default ${DEFAULT_COORDINATOR})`)
    .option("--token <token>", "your control token, from coord user add (env FLEETGATE_TOKEN)")
    .option("--state-dir <dir>", "read the admin token and CA from the coordinator's state dir (env FLEETGATE_STATE_DIR)")
    .option("--ca <file>", "the coordinator's CA certificate, STATE_DIR/tls/ca.crt (env FLEETGATE_CA; default: from --state-dir)")
    .option("--insecure", "plaintext gRPC, for a coordinator started with coord serve --insecure");
}

export async function withClient<T>(flags: ConnectionFlags, fn: (c: ControlClient) => Promise<T>): Promise<T> {
  const client = new ControlClient(flags);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}
