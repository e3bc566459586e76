// `user:` — the user a check's programs run as (issue 15): on a suite, the default for its checks;
// on a check, a cross step, a matrix leg or a probe, for that check. Rootless podman and
// `systemctl --user` only answer for the user that owns them, so a check asking about them has to
// be that user. The agent switches with setpriv (agent/run-as/); this module is the YAML side.
import { z } from "zod";
import { KIND_NAMES, type KindName } from "./kinds/index.js";

/**
 * Kinds whose observation is a program the agent starts (podman, systemctl, curl, bats…): the
 * ones `user:` applies to. The others (file, disk, memory, load, tcp) are observed by the agent
 * itself, in its own process, so there is no program to run as anybody.
 * agent/checks/ must agree: test/unit/run-as.test.ts observes every kind and sees which start one.
 */
export const PROGRAM_KINDS: readonly KindName[] = ["command", "http", "systemd", "quadlet", "bats", "bitcoin", "nginx", "podman"];

export function runsPrograms(kind: KindName): boolean {
  return PROGRAM_KINDS.includes(kind);
}

// useradd's own rule (shadow's is_valid_user_name), minus a leading '-' that setpriv would read
// as an option; 32 is Debian's limit. A name all of digits would be read as a uid: write a number.
const NAME = /^[A-Za-z_][A-Za-z0-9._-]{0,31}\$?$/;
const USER_TEXT = "expected a user name like nobody or alice, or a numeric uid like 1000";

const MAX_UID = 4294967294; // (uid_t)-1 means "no change" to setresuid, never a user

/** `user: nobody` or `user: 1000` (a uid: YAML reads it as a number). */
export const UserSchema = z.union(
  [
    z.string().regex(NAME, { message: USER_TEXT }),
    z.number().refine((n) => Number.isInteger(n) && n >= 0 && n <= MAX_UID, { error: (iss) => `${USER_TEXT} (0–${MAX_UID}), got ${String(iss.input)}` }),
  ],
  { error: (iss) => `${USER_TEXT}, got ${JSON.stringify(iss.input)}` },
);
export type UserDef = z.infer<typeof UserSchema>;

/** The user as the agent looks it up (getent passwd takes a name or a uid alike). */
export function userKey(user: UserDef): string {
  return String(user);
}

/** Refinement for a check-like block: `user:` on a kind that runs no program is refused. */
export function userAppliesRule(block: { user?: UserDef } & Partial<Record<KindName, unknown>>, ctx: z.RefinementCtx): void {
  if (block.user === undefined) return;
  const kind = KIND_NAMES.find((k) => block[k] !== undefined);
  if (kind === undefined || runsPrograms(kind)) return;
  ctx.addIssue({
    code: "custom",
    path: ["user"],
    message: `a ${kind} check runs no program (the agent observes it itself), so user: does not apply to it; remove user:, or check it with a command: run as that user (user: applies to ${PROGRAM_KINDS.join(", ")})`,
  });
}
