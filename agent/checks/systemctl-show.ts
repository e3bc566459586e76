// Asking a service manager about a unit with `systemctl show`, shared by the systemd and
// quadlet checks.
import { systemctlShowArgv, type Scope } from "../../shared/model/kinds/systemd.js";
import type { ProcessOutcome } from "../process.js";
import { firstLine, processFailure } from "./kind.js";

// The argv is built in shared/ so the coordinator's dry run prints exactly what runs here.
export { systemctlShowArgv };

/**
 * Reads `Key=value` lines as a set. systemctl prints properties in D-Bus interface order, not in
 * the order given to `-p` (fixtures/README.md), so nothing may depend on line order.
 */
export function parseShowProperties(stdout: string): Map<string, string> {
  const props = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) props.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return props;
}

/**
 * Why systemctl gave no answer about `unit`, or undefined when it answered. `show` exits 0 even
 * for a unit that does not exist; rc 1 means there was no manager to ask (no systemd as PID 1,
 * no user bus), which says nothing about the unit and must not read as "inactive".
 */
export function systemctlFailure(seen: ProcessOutcome, scope: Scope, unit: string, timeoutMs: number): string | undefined {
  const who = scope === "user" ? "systemctl --user" : "systemctl";
  const broken = processFailure(seen, timeoutMs);
  if (broken) return `${who} could not answer about ${unit}: ${broken}`;
  if (seen.exitCode === 0) return undefined;
  const why = firstLine(seen.stderr) || firstLine(seen.stdout) || "no output";
  return `${who} could not answer about ${unit} (exit ${seen.exitCode}): ${why}`;
}
