// Whether this agent may run a check as another user. setpriv needs CAP_SETUID and CAP_SETGID
// (setresuid, setresgid, setgroups) in the process the agent starts: root has them after exec
// when its bounding set keeps them; an agent running as a system user has them only as ambient
// capabilities (AmbientCapabilities= in its unit), which are the ones that survive exec.
import { readFileSync } from "node:fs";

const CAP_SETGID = 6;
const CAP_SETUID = 7;

export interface OwnCredentials {
  uid: number;
  /** CapBnd and CapAmb from /proc/self/status, as the hex masks it prints. */
  capBnd: string;
  capAmb: string;
}

/** Pure: the Uid (real) and the two capability masks of a /proc/PID/status text. */
export function parseStatus(status: string): OwnCredentials {
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(status)?.[1] ?? "";
  return { uid: Number(field("Uid") || Number.NaN), capBnd: field("CapBnd") || "0", capAmb: field("CapAmb") || "0" };
}

const has = (mask: string, cap: number) => ((BigInt(`0x${mask}`) >> BigInt(cap)) & 1n) === 1n;

/** Pure: whether a process started by this one can switch to another user. */
export function canSwitchUser(own: OwnCredentials): boolean {
  const mask = own.uid === 0 ? own.capBnd : own.capAmb;
  return has(mask, CAP_SETUID) && has(mask, CAP_SETGID);
}

/** This agent's own credentials; read each time (cheap), so a test can run under any user. */
export function ownCredentials(): OwnCredentials {
  try {
    return parseStatus(readFileSync("/proc/self/status", "utf8"));
  } catch {
    // No /proc: judge by the uid alone.
    return { uid: process.getuid?.() ?? -1, capBnd: "0", capAmb: "0" };
  }
}
