// Who a `user:` is on this node: its passwd entry as NSS answers (getent, so LDAP, sssd and
// systemd-homed users resolve as they do for login), looked up by name or uid alike.
import { execa } from "execa";

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Pure: one passwd(5) line, `name:x:uid:gid:gecos:home:shell`; undefined when it is not one. */
export function parsePasswdEntry(line: string): PasswdEntry | undefined {
  const f = line.replace(/\n$/, "").split(":");
  if (f.length !== 7) return undefined;
  const [name, , uid, gid, , home, shell] = f as [string, string, string, string, string, string, string];
  if (!name || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return undefined;
  return { name, uid: Number(uid), gid: Number(gid), home, shell };
}

/** getent's exit status when the key is not in the database (getent(1)). */
const NOT_FOUND = 2;

/**
 * The passwd entry of `user` (a name or a uid), undefined when there is none. Throws when the
 * lookup itself breaks (getent missing, NSS timing out): that is the agent's trouble, not a verdict.
 */
export async function lookupUser(user: string): Promise<PasswdEntry | undefined> {
  const r = await execa("getent", ["passwd", user], { reject: false, timeout: 10_000, stdin: "ignore" });
  if (r.exitCode === NOT_FOUND) return undefined;
  if (r.exitCode !== 0) throw new Error(`getent passwd ${user} failed: ${r.stderr || r.shortMessage}`);
  const entry = parsePasswdEntry(String(r.stdout).split("\n")[0] ?? "");
  if (!entry) throw new Error(`getent passwd ${user} printed no passwd entry: ${JSON.stringify(String(r.stdout).slice(0, 200))}`);
  return entry;
}
