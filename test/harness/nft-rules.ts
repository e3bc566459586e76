// The nftables ruleset inside one node's namespace, rendered from the impairments the test asked
// for. Pure: the fleet keeps the desired state and replaces the whole table atomically each time,
// so heal/partition in any order never leaves a half-applied rule behind.

export const NFT_TABLE = "fleetgate-harness";

export interface Impairments {
  /** Addresses whose packets this node never receives (a partition is this, on both sides). */
  blockedFrom: ReadonlySet<string>;
  /** Percent (0–100) of the packets arriving at the node that are dropped at random. */
  lossPercent: number;
}

export const NO_IMPAIRMENTS: Impairments = { blockedFrom: new Set(), lossPercent: 0 };

export function isImpaired(imp: Impairments): boolean {
  return imp.blockedFrom.size > 0 || imp.lossPercent > 0;
}

/**
 * An `nft -f` script that replaces the harness table. Drops are on input only: a packet leaves its
 * sender and vanishes, as on a real broken path, so a connect times out instead of failing at once
 * with EPERM (which is what an output drop would make the sender's own kernel report).
 */
export function nftScript(imp: Impairments): string {
  if (!Number.isInteger(imp.lossPercent) || imp.lossPercent < 0 || imp.lossPercent > 100) {
    throw new Error(`packet loss must be a whole percent 0..100, got ${imp.lossPercent}`);
  }
  const rules = [`iifname "lo" accept`];
  const blocked = [...imp.blockedFrom].sort();
  if (blocked.length) rules.push(`ip saddr { ${blocked.join(", ")} } drop`);
  if (imp.lossPercent > 0) rules.push(`numgen random mod 100 < ${imp.lossPercent} drop`);
  // "add table; delete table" makes the delete succeed whether or not the table exists yet.
  return [
    `add table inet ${NFT_TABLE}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    `  chain input {`,
    `    type filter hook input priority filter; policy accept;`,
    ...rules.map((r) => `    ${r}`),
    `  }`,
    `}`,
    ``,
  ].join("\n");
}
