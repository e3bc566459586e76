import { CommanderError } from "commander";
import { EXIT_CODE, FleetgateError } from "./errors.js";

/**
 * Exit status for whatever a CLI action threw: usage errors (commander has already printed
 * them) are bad input (3), FleetgateErrors map by code, anything else is 1.
 */
export function reportFailure(program: string, err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_CODE.bad_input;
  process.stderr.write(`${program}: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT_CODE[FleetgateError.from(err).code];
}
