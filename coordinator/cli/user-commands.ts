// `coord user add|list|revoke|whoami`: a control token per person, with a role (viewer, operator,
// admin). Formatting is pure; the coordinator decides and records (server/control-service.ts).
import { toJson } from "@bufbuild/protobuf";
import { InvalidArgumentError, type Command } from "commander";
import { ControlService, UserInfoSchema, type UserInfo } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { humanDuration } from "../../shared/durations.js";
import { FleetgateError } from "../../shared/errors.js";
import { ROLES, isRole, type Role } from "../access/roles.js";
import { table } from "./format.js";
import { connected, duration, print, withClient, type ConnectionFlags } from "./kit.js";

function role(value: string): Role {
  if (!isRole(value)) throw new InvalidArgumentError(`expected one of ${ROLES.join(", ")}`);
  return value;
}

function userState(u: UserInfo, now: number): string {
  if (u.revokedAtMs > 0n) return "revoked";
  if (u.expiresAtMs > 0n && Number(u.expiresAtMs) <= now) return "expired";
  return "active";
}

function expiry(u: UserInfo, now: number): string {
  if (u.bootstrap) return "never (STATE_DIR/admin.token)";
  if (u.expiresAtMs === 0n) return "never";
  const at = Number(u.expiresAtMs);
  return at <= now ? `${humanDuration(now - at)} ago` : `in ${humanDuration(at - now)}`;
}

/** `coord user list`: one row a token, the bootstrap admin first, then newest first. */
export function formatUsers(users: UserInfo[], now = Date.now()): string {
  const rows = [["NAME", "ROLE", "STATE", "TOKEN", "ADDED BY", "EXPIRES"]];
  for (const u of users) rows.push([u.name, u.role, userState(u, now), u.tokenId, u.bootstrap ? "-" : u.createdBy, expiry(u, now)]);
  return table(rows);
}

export function formatWhoAmI(u: UserInfo, now = Date.now()): string {
  if (u.bootstrap) return `admin (role admin): the bootstrap token in STATE_DIR/admin.token`;
  return `${u.name} (role ${u.role}), token ${u.tokenId || "?"}, expires ${expiry(u, now)}`;
}

export function registerUserCommands(program: Command): void {
  const user = program
    .command("user")
    .description("people and their control tokens (role admin, except whoami): viewer reads; operator also starts and cancels runs; admin also signs off and manages people, tokens and nodes");
  connected(
    user
      .command("add")
      .description("give a person a control token with a role and print it, once (they pass it with --token or FLEETGATE_TOKEN)")
      .argument("<name>", "the person, as sign-offs and logs will name them, e.g. alice")
      .requiredOption("--role <role>", "viewer (reads), operator (also starts and cancels runs) or admin (also signs off, manages people, tokens and nodes)", role)
      .option("--ttl <duration>", "how long the token works, e.g. 90d (default: until revoked)", duration)
      .option("--replace", "revoke the person's live token in the same step (a new role, a leaked token)"),
  ).action(async (name: string, flags: ConnectionFlags & { role: Role; ttl?: number; replace?: boolean }) => {
    const res = await withClient(flags, (c) =>
      c.call(ControlService.method.addUser, { name, role: flags.role, ttlSeconds: BigInt(Math.ceil((flags.ttl ?? 0) / 1000)), replace: !!flags.replace }),
    );
    print(res.token);
    const u = res.user;
    const replaced = res.replaced ? `; revoked their token ${res.replaced.tokenId} (${res.replaced.role})` : "";
    process.stderr.write(`token ${u?.tokenId ?? "?"} for ${name} (${u?.role ?? flags.role}), expires ${u ? expiry(u, Date.now()) : "?"}${replaced}; shown this once; revoke it with: coord user revoke ${name}\n`);
  });
  connected(user.command("list").description("list people and their tokens (live, expired, revoked), the bootstrap admin first; tokens are shown only when added"))
    .option("--json", "print JSON")
    .action(async (flags: ConnectionFlags & { json?: boolean }) => {
      const { users } = await withClient(flags, (c) => c.call(ControlService.method.listUsers, {}));
      print(flags.json ? JSON.stringify(users.map((u) => toJson(UserInfoSchema, u)), null, 2) : formatUsers(users));
    });
  connected(user.command("revoke").description("revoke a person's live token: every call with it is refused from then on").argument("<name>", "the person"))
    .action(async (name: string, flags: ConnectionFlags) => {
      const { user: u } = await withClient(flags, (c) => c.call(ControlService.method.revokeUser, { name }));
      print(`revoked token ${u?.tokenId ?? "?"} of ${name} (${u?.role ?? "?"}); give them a new one with: coord user add ${name} --role ROLE`);
    });
  connected(user.command("whoami").description("who the token in use belongs to, and its role"))
    .option("--json", "print JSON")
    .action(async (flags: ConnectionFlags & { json?: boolean }) => {
      const { user: u } = await withClient(flags, (c) => c.call(ControlService.method.whoAmI, {}));
      if (!u) throw new FleetgateError("internal", "the coordinator answered whoami without naming anyone");
      print(flags.json ? JSON.stringify(toJson(UserInfoSchema, u), null, 2) : formatWhoAmI(u));
    });
}
