// A check's `user:` made real on this node before anything runs: the user exists, and the agent
// may become it. Either failing is the check's error (never a pass, never a silent run as the
// agent), said so a person knows what to fix on which node.
import type { Suite } from "../../shared/model/suite.js";
import { toolOnPath } from "../tool-path.js";
import { lookupUser, type PasswdEntry } from "./passwd.js";
import { canSwitchUser, ownCredentials, type OwnCredentials } from "./privilege.js";
import { SETPRIV_MISSING } from "./setpriv.js";

/** A check's user, resolved: whom its processes run as, and setpriv when that is not the agent itself. */
export interface RunAs {
  user: PasswdEntry;
  /** setpriv's path; absent when the agent already is this user. */
  setpriv?: string;
}

export type RunAsResolution = { runAs: RunAs } | { error: string; hint: string };

export interface RunAsDeps {
  lookup: (user: string) => Promise<PasswdEntry | undefined>;
  own: () => OwnCredentials;
  setprivPath: () => string | null;
}

const REAL: RunAsDeps = { lookup: lookupUser, own: ownCredentials, setprivPath: () => toolOnPath("setpriv") };

/** `user` as written (a name or a uid) on node `node`. Throws only when the lookup itself breaks. */
export async function resolveRunAs(user: string, node: string, deps: RunAsDeps = REAL): Promise<RunAsResolution> {
  const entry = await deps.lookup(user);
  if (!entry) {
    return { error: `user '${user}' does not exist on ${node}`, hint: `create it on ${node} (adduser --system ${/^\d+$/.test(user) ? "NAME" : user}), or change user: in the suite` };
  }
  const own = deps.own();
  if (own.uid === entry.uid) return { runAs: { user: entry } };
  if (!canSwitchUser(own)) {
    return {
      error: `cannot run as user '${entry.name}': the agent runs as uid ${own.uid} without CAP_SETUID, CAP_SETGID and CAP_KILL; running checks as another user needs root, or those three capabilities`,
      hint: "run the agent as root, or give its unit AmbientCapabilities=CAP_SETUID CAP_SETGID CAP_KILL (and keep them in CapabilityBoundingSet=)",
    };
  }
  const setpriv = deps.setprivPath();
  if (!setpriv) return { error: SETPRIV_MISSING, hint: "apt-get install util-linux" };
  return { runAs: { user: entry, setpriv } };
}

/** Every user the checks of `suites` run as, as written (a check's and its then:'s). */
export function suiteUsers(suites: readonly Suite[]): string[] {
  const blocks = suites.flatMap((s) => [...s.preconditions, ...s.checks]).flatMap((c) => [c, c.then]);
  return [...new Set(blocks.map((b) => b?.user).filter((u): u is string => u !== undefined))];
}

/**
 * Of `users`, those this node knows that are not the agent itself: whom a task's work dir is
 * handed to (agent/engine/work-dir.ts). One that does not resolve is left out: its checks say so.
 */
export async function otherUsers(users: readonly string[], deps: RunAsDeps = REAL): Promise<PasswdEntry[]> {
  const creds = deps.own();
  // An agent that cannot become them cannot hand them files either: their checks say why.
  if (!canSwitchUser(creds)) return [];
  const own = creds.uid;
  const found = new Map<number, PasswdEntry>();
  for (const user of users) {
    const entry = await deps.lookup(user).catch(() => undefined);
    if (entry && entry.uid !== own) found.set(entry.uid, entry);
  }
  return [...found.values()];
}
