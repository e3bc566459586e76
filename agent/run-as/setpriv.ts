// How a check's process runs as its `user:`: its argv under util-linux `setpriv`, which switches
// uid, gid and supplementary groups and then execs the command, so the check keeps its pid, its
// process group (killed whole on timeout) and its exit status, like prlimit (agent/limits/).
//
// Not `--reset-env`: it would drop the check's own `env:`. The environment is composed here
// instead: the agent's, less what belongs to the agent's own user or must not leave it, then the
// user's HOME, USER, LOGNAME, SHELL and XDG_RUNTIME_DIR (so `systemctl --user` finds the user's
// manager and rootless podman its store), then the check's `env:`, which wins: its author asked.
import type { PasswdEntry } from "./passwd.js";

/**
 * Pure: `argv` run as `user`. `--inh-caps=-all` empties the inheritable set, and with it the
 * ambient one: an agent holding CAP_SETUID/CAP_SETGID as ambient capabilities (a non-root agent)
 * would otherwise hand them to the check across setresuid and exec (recorded in
 * test/fixtures/proc-status/). No `--no-new-privs`: rootless podman needs its setuid newuidmap.
 */
export function runAsArgv(setpriv: string, user: PasswdEntry, argv: string[]): string[] {
  return [setpriv, `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--inh-caps=-all", "--ambient-caps=-all", "--", ...argv];
}

/** /run/user/UID: made by systemd-logind for a user with a session, or lingering (loginctl enable-linger). */
export function runtimeDir(uid: number): string {
  return `/run/user/${uid}`;
}

/**
 * The agent's variables a check run as another user does not get: the agent's own user's
 * (replaced below, or pointing at the agent's session bus and XDG dirs, which would send
 * `systemctl --user` and podman to the wrong user), and the agent's enrollment token.
 */
const NOT_PASSED = new Set(["HOME", "USER", "LOGNAME", "SHELL", "MAIL", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "DBUS_SESSION_BUS_ADDRESS", "XAUTHORITY", "FLEETGATE_TOKEN"]);

/** Pure: the whole environment of a check process run as `user` (spawned with extendEnv: false). */
export function runAsEnv(user: PasswdEntry, agentEnv: NodeJS.ProcessEnv, checkEnv: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(agentEnv)) if (value !== undefined && !NOT_PASSED.has(name)) env[name] = value;
  Object.assign(env, { HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell, XDG_RUNTIME_DIR: runtimeDir(user.uid) });
  return Object.assign(env, checkEnv);
}

/** What the agent says when it cannot switch users: setpriv is missing. */
export const SETPRIV_MISSING = "setpriv not found (Debian package util-linux): checks with user: cannot run";
