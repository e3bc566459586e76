// Can this process build netns nodes at all? Pure facts and problems, no test framework: the
// harness (createNetnsFleet refuses loudly instead of half-building) and the bench use it.
import { missingTool, toolPath } from "../support/host-tools.js";

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

/** One line per problem: not Linux, not root, and each missing tool with its package. */
export function preflightProblems(facts: HostFacts): string[] {
  if (facts.platform !== "linux") return [`network namespaces need Linux; this is ${facts.platform}`];
  const problems: string[] = [];
  if (facts.uid !== 0) problems.push(`must run as root (ip netns, veth, nft and mount --bind need CAP_NET_ADMIN and CAP_SYS_ADMIN); uid is ${facts.uid}`);
  for (const tool of facts.missing) problems.push(missingTool(tool, REQUIRED_TOOLS[tool] ?? tool));
  return problems;
}

export function observeHost(): HostFacts {
  return { platform: process.platform, uid: process.getuid?.(), missing: Object.keys(REQUIRED_TOOLS).filter((t) => !toolPath(t)) };
}

/** Throws, naming every problem at once, when this host cannot run a netns fleet. */
export function assertNetnsPrerequisites(facts: HostFacts = observeHost()): void {
  const problems = preflightProblems(facts);
  if (problems.length) throw new Error(`the netns test harness cannot create network namespaces here:\n- ${problems.join("\n- ")}`);
}
