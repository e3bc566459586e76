// Fault steps, for resilience scenarios on test networks: cut this node off from a peer for a
// while (nftables drop rules in this node's network namespace), or die as a crashed host would.
// Only an agent started with --allow-faults takes them.
import { isIP } from "node:net";
import { execa } from "execa";
import { FleetgateError } from "../../shared/errors.js";
import { humanDuration } from "../../shared/durations.js";

let tables = 0;

/** The nft script that drops every packet to and from `addresses`, in a table of its own. */
export function partitionScript(table: string, addresses: string[]): string {
  const rules = addresses.flatMap((a) => {
    const family = isIP(a) === 6 ? "ip6" : "ip";
    return [`add rule inet ${table} input ${family} saddr ${a} drop`, `add rule inet ${table} output ${family} daddr ${a} drop`];
  });
  return [
    `add table inet ${table}`,
    `add chain inet ${table} input { type filter hook input priority -10 ; }`,
    `add chain inet ${table} output { type filter hook output priority -10 ; }`,
    ...rules,
    "",
  ].join("\n");
}

/** Refuses what would cut more than a peer: no address, a non-IP, or a loopback address. */
export function checkPartitionAddresses(addresses: string[]): void {
  if (!addresses.length) throw new FleetgateError("bad_input", "partition: no peer address to cut off");
  for (const a of addresses) {
    if (!isIP(a)) throw new FleetgateError("bad_input", `partition: ${a} is not an IP address`);
    if (a.startsWith("127.") || a === "::1") {
      throw new FleetgateError("bad_input", `partition: peer address ${a} is loopback; nodes sharing one host cannot be partitioned (use separate hosts or network namespaces)`);
    }
  }
}

/**
 * Installs the drop rules and schedules the heal. Resolves once traffic is cut, with a summary;
 * the heal runs `forMs` later even if the coordinator link is down meanwhile.
 */
export async function partition(addresses: string[], forMs: number, peer: string, onHealed: (err?: Error) => void): Promise<string> {
  checkPartitionAddresses(addresses);
  const table = `fleetgate_fault_${process.pid}_${++tables}`;
  try {
    await execa("nft", ["-f", "-"], { input: partitionScript(table, addresses), timeout: 10_000 });
  } catch (err) {
    const e = err as { stderr?: string; code?: string; message: string };
    throw FleetgateError.from(err, "internal", `partition: nft failed: ${e.code === "ENOENT" ? "nft not found (install nftables)" : (e.stderr || e.message).trim()}`);
  }
  const timer = setTimeout(() => {
    execa("nft", ["delete", "table", "inet", table], { timeout: 10_000 }).then(
      () => onHealed(),
      (err: Error) => onHealed(err),
    );
  }, forMs);
  timer.unref();
  return `cut off from ${peer} (${addresses.join(", ")}) for ${humanDuration(forMs)}`;
}
