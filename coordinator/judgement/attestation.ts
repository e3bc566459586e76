// Attestation (DESIGN rule 1): results count for a release only when each node is a host of its
// own. Nodes that report one machine-id are clones or share a host; an agent with the
// coordinator's machine-id or boot id runs on the coordinator itself (a container or namespace
// with a machine-id file of its own still shares the kernel's boot id). Pure: identities in, flags out.
import type { NodeIdentity } from "../../shared/gen/fleetgate/v1/common_pb.js";

/** Machine-id → the names of two or more nodes that report it. */
export function sharedMachineIds(nodes: { identity: NodeIdentity }[]): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  for (const n of nodes) byId.set(n.identity.machineId, [...(byId.get(n.identity.machineId) ?? []), n.identity.name]);
  for (const [id, names] of byId) if (names.length < 2) byId.delete(id);
  return byId;
}

/** The coordinator's own host, as /etc/machine-id and the kernel's boot id say. */
export interface OwnHost {
  machineId: string;
  bootId: string;
}

/** Node name → why its results are not valid for sign-off ("shares machine-id with node-b"). */
export function attestationFlags(nodes: { identity: NodeIdentity }[], own: OwnHost, cloneOf: (node: string) => string | undefined = () => undefined): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  const add = (node: string, flag: string) => flags.set(node, [...(flags.get(node) ?? []), flag]);
  for (const [, names] of sharedMachineIds(nodes)) {
    for (const n of names) add(n, `shares machine-id with ${names.filter((x) => x !== n).join(", ")}`);
  }
  for (const n of nodes) {
    const sameMachine = own.machineId !== "" && n.identity.machineId === own.machineId;
    const sameKernel = own.bootId !== "" && n.identity.bootId === own.bootId;
    if (sameMachine || sameKernel) add(n.identity.name, "runs on the coordinator's own host");
    // Seen by the fleet: two machines answering as this node at once (coordinator/fleet/sessions.ts).
    const clone = cloneOf(n.identity.name);
    if (clone) add(n.identity.name, `is cloned: ${clone}`);
  }
  return flags;
}

/** The run's flags: each flag of each node in the run, as "node node-a shares machine-id with node-b". */
export function runAttestationFlags(nodes: { identity: NodeIdentity }[], own: OwnHost, cloneOf?: (node: string) => string | undefined): string[] {
  return [...attestationFlags(nodes, own, cloneOf)].flatMap(([node, fs]) => fs.map((f) => `node ${node} ${f}`));
}
