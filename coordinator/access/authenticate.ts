// A control call's token → the person it is made as: the bootstrap token (STATE_DIR/admin.token) is
// "admin"; any other must be a live person token (store/people.ts). A refusal says whose token it
// was, when that is known, so the log line names them.
import { humanDuration } from "../../shared/durations.js";
import type { Db } from "../store/db.js";
import { findPersonToken, tokenState } from "../store/people.js";
import { sameSecret } from "../store/tokens.js";
import { BOOTSTRAP_ADMIN, type Identity } from "./roles.js";

export type Authentication = { identity: Identity } | { refused: string; who: string };

export function authenticate(db: Db, bootstrapToken: string, token: string, now = Date.now()): Authentication {
  if (!token) return { who: "-", refused: "no admin token; pass --token, set FLEETGATE_TOKEN, or pass --state-dir of the coordinator (it holds admin.token)" };
  if (sameSecret(token, bootstrapToken)) return { identity: BOOTSTRAP_ADMIN };
  const t = findPersonToken(db, token);
  if (!t) {
    return { who: "-", refused: "admin token refused: not one this coordinator issued; use your own (an admin gives you one with: coord user add NAME --role R) or the one in STATE_DIR/admin.token of this coordinator" };
  }
  const again = `ask an admin for a new one: coord user add ${t.name} --role ${t.role}`;
  switch (tokenState(t, now)) {
    case "revoked":
      return { who: t.name, refused: `token ${t.id} of ${t.name} was revoked ${humanDuration(now - (t.revokedAt ?? now))} ago; ${again}` };
    case "expired":
      return { who: t.name, refused: `token ${t.id} of ${t.name} expired ${humanDuration(now - (t.expiresAt ?? now))} ago; ${again}` };
    case "active":
      return { identity: { name: t.name, role: t.role, bootstrap: false } };
  }
}
