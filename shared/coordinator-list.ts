// The coordinators an agent (or the coord CLI) may dial (issue 19): `--coordinator a:7400,b:7400`, the same in
// FLEETGATE_COORDINATOR, or agent.yaml's `coordinator:` as one string or a list. They are tried in
// this order (agent/daemon/coordinator-choice.ts); one address works as it always did.
import { splitAddress } from "./model/kinds/tcp.js";

const EXAMPLE = "e.g. coord-a.example.net:7400,coord-b.example.net:7400 ([fd7a::1]:7400 for IPv6)";

/**
 * The addresses in `value` ("a:7400,b:7400", or a YAML list), in order. Throws naming the entry
 * that is not host:port, is empty or is listed twice; the caller adds where the value came from.
 */
export function parseCoordinatorList(value: string | readonly string[]): string[] {
  const entries = typeof value === "string" ? value.split(",").map((e) => e.trim()) : [...value];
  if (!entries.length) throw new Error(`no coordinator address; give at least one as HOST:PORT, ${EXAMPLE}`);
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const which = entries.length > 1 ? `entry ${i + 1} of ${entries.length}, ` : "";
    if (entry === "") throw new Error(`${which}is empty; separate addresses with one comma, ${EXAMPLE}`);
    if (!splitAddress(entry)) throw new Error(`${which}"${entry}" is not HOST:PORT with a port 1–65535, ${EXAMPLE}`);
    if (seen.has(entry)) throw new Error(`${which}"${entry}" is listed twice; give each coordinator once`);
    seen.add(entry);
  });
  return entries;
}
