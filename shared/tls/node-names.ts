// How a node's name and machine-id are written into its client certificate, and read back: two
// URI subject-alternative names, so the certificate says which node on which machine it is for.
// Node names are letters, digits, ".", "_" and "-" (admission refuses others), so they need no
// escaping in a URI and never hold the ", " that separates alternative names.

const NAME_URI = "urn:fleetgate:node:";
const MACHINE_URI = "urn:fleetgate:machine-id:";

export function nodeUris(name: string, machineId: string): string[] {
  return [`${NAME_URI}${name}`, `${MACHINE_URI}${machineId}`];
}

/** The node name and machine-id in a certificate's subjectAltName text (as node:crypto prints it). */
export function nodeFromAltNames(subjectAltName: string | undefined): { name: string; machineId: string } | undefined {
  const uris = (subjectAltName ?? "")
    .split(/,\s*/)
    .filter((entry) => entry.startsWith("URI:"))
    .map((entry) => entry.slice("URI:".length));
  const name = uris.find((u) => u.startsWith(NAME_URI))?.slice(NAME_URI.length);
  const machineId = uris.find((u) => u.startsWith(MACHINE_URI))?.slice(MACHINE_URI.length);
  return name && machineId ? { name, machineId } : undefined;
}
