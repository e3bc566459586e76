// Can this process build netns nodes at all? Answered before anything is created, so a run without
// root or without the tools fails loudly with what to do, instead of skipping or half-building.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Each tool the harness runs, and the Debian package that ships it. */
export const REQUIRED_TOOLS: Readonly<Record<string, string>> = {
  ip: "iproute2",
  tc: "iproute2",
  nft: "nftables",
  unshare: "util-linux",
  mount: "mount",
  hostname: "hostname",
  env: "coreutils",
  sh: "dash",
};

export interface HostFacts {
  platform: string;
  uid: number | undefined;
  /** Tools from REQUIRED_TOOLS not found on PATH. */
  missing: string[];
}

export function preflightProblems(facts: HostFacts): string[] {
  const problems: string[] = [];
  if (facts.platform !== "linux") return [`network namespaces need Linux; this is ${facts.platform}`];
  if (facts.uid !== 0) problems.push(`must run as root (ip netns, veth, nft and mount --bind need CAP_NET_ADMIN and CAP_SYS_ADMIN); uid is ${facts.uid}`);
  if (facts.missing.length) {
    const pkgs = [...new Set(facts.missing.map((t) => REQUIRED_TOOLS[t] ?? t))].sort();
    problems.push(`missing ${facts.missing.join(", ")} on PATH; install with: apt-get install -y ${pkgs.join(" ")}`);
  }
  return problems;
}

function onPath(tool: string, pathEnv: string): boolean {
  return pathEnv
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(join(dir, tool), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

export function observeHost(): HostFacts {
  const path = process.env.PATH ?? "";
  return { platform: process.platform, uid: process.getuid?.(), missing: Object.keys(REQUIRED_TOOLS).filter((t) => !onPath(t, path)) };
}

/** Throws, naming every problem at once, when this host cannot run a netns fleet. */
export function assertNetnsPrerequisites(facts: HostFacts = observeHost()): void {
  const problems = preflightProblems(facts);
  if (problems.length) throw new Error(`the netns test harness cannot create network namespaces here:\n- ${problems.join("\n- ")}`);
}
