// Whether this agent may run a check as another user. setpriv needs CAP_SETUID and CAP_SETGID
// (setresuid, setresgid, setgroups) in the process the agent starts: root has them after exec
// when its bounding set keeps them; an agent running as a system user has them only as ambient
// capabilities (AmbientCapabilities= in its unit), which are the ones that survive exec. And the
// agent itself needs CAP_KILL: a timed-out or cancelled check's process group belongs to that
// user, and kill(2) across users needs it — without it such a check could not be stopped.
import { readFileSync } from "node:fs";

const CAP_KILL = 5;
const CAP_SETGID = 6;
const CAP_SETUID = 7;

export interface OwnCredentials {
  uid: number;
  /** CapEff, CapBnd and CapAmb from /proc/self/status, as the hex masks it prints. */
  capEff: string;
  capBnd: string;
  capAmb: string;
}

/** Pure: the Uid (real) and the capability masks of a /proc/PID/status text. */
export function parseStatus(status: string): OwnCredentials {
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(status)?.[1] ?? "";
  return { uid: Number(field("Uid") || Number.NaN), capEff: field("CapEff") || "0", capBnd: field("CapBnd") || "0", capAmb: field("CapAmb") || "0" };
}

const has = (mask: string, cap: number) => ((BigInt(`0x${mask}`) >> BigInt(cap)) & 1n) === 1n;

/** Pure: whether a process started by this one can switch to another user, and this one stop it. */
export function canSwitchUser(own: OwnCredentials): boolean {
  const children = own.uid === 0 ? own.capBnd : own.capAmb;
  return has(children, CAP_SETUID) && has(children, CAP_SETGID) && has(own.capEff, CAP_KILL);
}

/** This agent's own credentials; read each time (cheap), so a test can run under any user. */
export function ownCredentials(): OwnCredentials {
  try {
    return parseStatus(readFileSync("/proc/self/status", "utf8"));
  } catch {
    // No /proc: judge by the uid alone.
    const uid = process.getuid?.() ?? -1;
    return { uid, capEff: uid === 0 ? "ffffffffff" : "0", capBnd: uid === 0 ? "ffffffffff" : "0", capAmb: "0" };
  }
}
