// Who may call what on the control port: three roles in one order, and one table naming the least
// role each ControlService method needs. Pure: authorize() (server/control-service.ts) applies it to
// every call, so a method cannot be served without a row here (the table is typed by the service).
import type { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";

/** viewer reads; operator also starts and cancels runs; admin also signs off and manages people, tokens and nodes. */
export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

export type ControlMethod = keyof typeof ControlService.method;

/** The person a control call is made as, from its token. */
export interface Identity {
  name: string;
  role: Role;
  /** The bootstrap token in STATE_DIR/admin.token, rather than a person's token. */
  bootstrap: boolean;
}

/** The bootstrap token's identity: whoever can read the state dir is this person. */
export const BOOTSTRAP_ADMIN: Identity = { name: "admin", role: "admin", bootstrap: true };

export function isRole(text: string): text is Role {
  return (ROLES as readonly string[]).includes(text);
}

/** Whether `role` has everything `needed` has. */
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

interface MethodRule {
  role: Role;
  /** What a refusal says the caller may not do: "start runs". */
  what: string;
}

// Sign-off is admin: it is the release decision (and accepts skips and narrowings by name), so it
// stays with the fewest people; operators run the gate, they do not declare it passed.
export const METHOD_ROLES: Record<ControlMethod, MethodRule> = {
  listNodes: { role: "viewer", what: "list nodes" },
  resolvePlan: { role: "viewer", what: "dry-run plans" },
  watchRun: { role: "viewer", what: "watch runs" },
  getRun: { role: "viewer", what: "read runs" },
  listRuns: { role: "viewer", what: "list runs" },
  exportEvidence: { role: "viewer", what: "export evidence" },
  whoAmI: { role: "viewer", what: "ask who they are" },
  getCoordinator: { role: "viewer", what: "see which coordinator is active" },
  startRun: { role: "operator", what: "start runs" },
  cancelRun: { role: "operator", what: "cancel runs" },
  signOff: { role: "admin", what: "sign runs off" },
  forgetNode: { role: "admin", what: "forget nodes" },
  replaceNode: { role: "admin", what: "replace nodes" },
  createToken: { role: "admin", what: "create enrollment tokens" },
  listTokens: { role: "admin", what: "list enrollment tokens" },
  revokeToken: { role: "admin", what: "revoke enrollment tokens" },
  listRefusals: { role: "admin", what: "read the refusal log" },
  addUser: { role: "admin", what: "add users" },
  listUsers: { role: "admin", what: "list users" },
  revokeUser: { role: "admin", what: "revoke users" },
  // Drain and labels decide where the next run's tasks go: running the gate, an operator's job.
  // Forgetting and replacing a node change who the node is, so they stay admin.
  drainNode: { role: "operator", what: "drain nodes" },
  undrainNode: { role: "operator", what: "undrain nodes" },
  labelNode: { role: "operator", what: "label nodes" },
  listMissingMachines: { role: "viewer", what: "list fleet machines without an agent" },
  listSchedules: { role: "viewer", what: "list schedules" },
  listAlerts: { role: "viewer", what: "list alerts" },
  // A rollout changes nodes the way a run tests them: an operator's job. Approving a held node (a
  // major bump, a manual migration) is a release decision, as sign-off is: admin.
  startRollout: { role: "operator", what: "start rollouts" },
  abortRollout: { role: "operator", what: "abort rollouts" },
  approveRollout: { role: "admin", what: "approve held rollouts" },
  getRollout: { role: "viewer", what: "read rollouts" },
  listRollouts: { role: "viewer", what: "list rollouts" },
};

/** Why `who` may not call `method`, as a message a person can act on; undefined when allowed. */
export function roleRefusal(who: Identity, method: ControlMethod): string | undefined {
  const rule = METHOD_ROLES[method];
  if (roleAllows(who.role, rule.role)) return undefined;
  return `${who.role} "${who.name}" may not ${rule.what} (needs ${rule.role}); ask an admin: coord user add ${who.name} --role ${rule.role} --replace`;
}
