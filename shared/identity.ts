// Who this node is. The machine-id is what lets the coordinator tell real nodes from clones
// and from agents that all run on one host (DESIGN rule 1).
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import { NodeIdentitySchema, type NodeIdentity } from "./gen/fleetgate/v1/common_pb.js";
import { readNodeFacts } from "./facts.js";
import { readTailscaleStatus } from "./tailscale.js";
import { FleetgateError } from "./errors.js";
import { findOnPath } from "./path-lookup.js";
import { installedVersions } from "./packages.js";
import { FLEETGATE_VERSION } from "./version.js";

export const MACHINE_ID_FILE = "/etc/machine-id";
export const BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id";

/** Tools whose checks need them on the node. */
export const CAPABILITY_PROGRAMS = ["podman", "systemctl", "bitcoin-cli", "bats", "curl", "nginx"] as const;

async function readId(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (err) {
    throw FleetgateError.from(err, "internal", `cannot read ${path}: ${(err as Error).message}; the agent needs it to identify this node`);
  }
}

export async function detectCapabilities(): Promise<string[]> {
  return CAPABILITY_PROGRAMS.filter((p) => findOnPath(p) !== undefined);
}

/** OS, kernel, CPU, memory, disks and load (shared/facts.ts); watched package versions. */
export async function collectFacts(packages?: string[]): Promise<Record<string, unknown>> {
  const [facts, versions] = await Promise.all([readNodeFacts(), installedVersions(packages)]);
  return { ...facts, packages: versions };
}

export interface IdentityOptions {
  name?: string;
  labels?: Record<string, string>;
  tailscaleSocket?: string;
  /** Packages whose versions go into the facts (default: DEFAULT_WATCHED_PACKAGES). */
  packages?: string[];
}

export async function readIdentity(opts: IdentityOptions = {}): Promise<NodeIdentity> {
  const host = hostname();
  const [machineId, bootId, capabilities, facts, tailscale] = await Promise.all([
    readId(MACHINE_ID_FILE),
    readId(BOOT_ID_FILE),
    detectCapabilities(),
    collectFacts(opts.packages),
    readTailscaleStatus(opts.tailscaleSocket),
  ]);
  return create(NodeIdentitySchema, {
    name: opts.name || host,
    machineId,
    bootId,
    hostname: host,
    labels: opts.labels ?? {},
    capabilities,
    factsJson: JSON.stringify(facts),
    agentVersion: FLEETGATE_VERSION,
    tailscale: tailscale ? { dnsName: tailscale.dnsName, ips: tailscale.ips } : undefined,
  });
}
