// Versions of the packages a release cares about, read from dpkg on the node, so `coord diff`
// can say "nginx 1.22.1-9 → 1.22.1-9+deb12u1" when a run that passed last week fails now.
import { execa } from "execa";

/** What the agent reports unless its config names others: the stack the seeds gate. */
export const DEFAULT_WATCHED_PACKAGES = ["podman", "systemd", "nginx", "tailscale", "curl", "bats", "openssl", "libc6", "openssh-server", "containerd", "docker-ce"];

// One line per package, fields we choose: name, version, and dpkg's two-letter state ("ii" = installed).
const FORMAT = "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n";

/** Installed packages and their versions from `dpkg-query -W -f FORMAT` output. Pure. */
export function parseDpkgVersions(stdout: string): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const [name, version, state] = line.split("\t");
    if (name && version && state?.startsWith("ii")) versions[name] = version;
  }
  return versions;
}

/**
 * Versions of `names` installed on this node; {} where dpkg is absent (not Debian) or slow. A
 * package not installed is simply absent: dpkg-query exits 1 for it, and that is not an error.
 */
export async function installedVersions(names: string[] = DEFAULT_WATCHED_PACKAGES): Promise<Record<string, string>> {
  if (!names.length) return {};
  const r = await execa("dpkg-query", ["-W", "-f", FORMAT, ...names], { reject: false, timeout: 5_000, stdin: "ignore" });
  return typeof r.stdout === "string" ? parseDpkgVersions(r.stdout) : {};
}
