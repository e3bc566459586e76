// ControlService: what the `coord` CLI calls. Every call carries a control token (a person's, or the
// bootstrap admin.token) and passes authorize(), which applies the role table (access/roles.ts).
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import * as pb from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { runPieces } from "../../shared/grpc/run-pieces.js";
import { toGrpcError } from "../../shared/grpc/status.js";
import { Status, statusName } from "../../shared/model/status.js";
import type { Db } from "../store/db.js";
import { getNode, forgetNode, listNodes, type NodeRow } from "../store/nodes.js";
import { approveClaim, getClaim, listClaims, type NodeClaimRow } from "../store/node-claims.js";
import { attestationFlags } from "../judgement/attestation.js";
import { getRun, listRuns } from "../store/runs.js";
import { createEnrollToken, hashToken, listEnrollTokens, revokeEnrollToken, tokenId, type EnrollTokenRow } from "../store/tokens.js";
import { addPersonToken, listPersonTokens, revokePersonToken, tokenState, type PersonToken } from "../store/people.js";
import { authenticate } from "../access/authenticate.js";
import { BOOTSTRAP_ADMIN, isRole, METHOD_ROLES, ROLES, roleRefusal, type ControlMethod, type Identity } from "../access/roles.js";
import type { RunEngine } from "../sequencer/engine.js";
import { signOff } from "../runs/sign-off.js";
import { dryRun, startRun, type StartRunDeps } from "../runs/start-run.js";
import { runWithFlakes, summarizeStored, type LoadedRuns } from "../judgement/stored.js";
import { loadRunRecord } from "../store/run-record.js";
import type { AgentSessions } from "../fleet/sessions.js";
import { refusalList } from "./refusal-list.js";
import { FLEETGATE_VERSION, isOutdated } from "../../shared/version.js";
import type { RefusalLog } from "./refusals.js";
import { drain, noteForgotten, relabel, undrain } from "../fleet/node-lifecycle.js";
import { parseLabelEdits } from "../fleet/node-labels.js";
import { rosterMessage, storedRoster } from "../fleet/run-roster.js";
import { streamWatch } from "./watch-stream.js";

export interface ControlServiceDeps extends StartRunDeps {
  log: Logger;
  adminToken: string;
  /** After a sign-off is stored, e.g. to add it to the run's evidence bundle. */
  afterSignoff?: (runId: string) => void;
  /** What `coord refusals` reads; none: it answers with nothing refused. */
  refusals?: RefusalLog;
  /** coord serve --tailscale-tag: asks tailscaled now (`coord nodes --missing --refresh`). */
  refreshFleetRoster?: () => Promise<void>;
}

/** What authorize() and unary() need: the store (person tokens), the bootstrap admin token, a log. */
export type AuthDeps = Pick<ControlServiceDeps, "db" | "adminToken" | "log">;

/**
 * The one gate every control call passes: who the call's token is, and whether their role may call
 * `method`. Returns the caller; throws UNAUTHENTICATED (no, unknown, revoked or expired token) or
 * PERMISSION_DENIED (the role is short), each refusal logged on one line: who, what, why.
 */
export function authorize(deps: AuthDeps, call: { metadata: grpc.Metadata; getPeer(): string }, method: ControlMethod): Identity {
  const header = String(call.metadata.get("authorization")[0] ?? "");
  const auth = authenticate(deps.db, deps.adminToken, header.replace(/^Bearer\s+/i, ""));
  if ("refused" in auth) {
    deps.log.warn({ who: auth.who, call: method, peer: call.getPeer(), why: auth.refused }, "control call refused: unauthenticated");
    throw new FleetgateError("unauthenticated", auth.refused);
  }
  const who = auth.identity;
  const refusal = roleRefusal(who, method);
  if (refusal) {
    deps.log.warn({ who: who.name, role: who.role, call: method, needs: METHOD_ROLES[method].role, peer: call.getPeer(), why: refusal }, "control call refused: permission denied");
    throw new FleetgateError("permission_denied", refusal);
  }
  return who;
}

/** A handler waiting for the method it serves, so authorize() is told the name the service calls it by. */
type ForMethod<H> = (method: ControlMethod) => H;

/** Gives each handler its own key as the method it authorizes. */
export function bindMethods<T extends { [K in ControlMethod]?: ForMethod<unknown> }>(handlers: T): { [K in keyof T]: T[K] extends ForMethod<infer H> ? H : never } {
  return Object.fromEntries(Object.entries(handlers).map(([method, h]) => [method, (h as ForMethod<unknown>)(method as ControlMethod)])) as {
    [K in keyof T]: T[K] extends ForMethod<infer H> ? H : never;
  };
}

/** Cancelled tasks a CancelRun answer names; the rest are counted (CancelRunResponse). */
const CANCELLED_LISTED = 100;

/** Wraps a unary handler, sync or async: auth, then FleetgateError → gRPC status. */
export function unary<Req, Res>(deps: AuthDeps, fn: (req: Req, who: Identity) => Res | Promise<Res>): ForMethod<grpc.handleUnaryCall<Req, Res>> {
  return (method) => (call, callback) => {
    const fail = (err: unknown) => {
      if (!(err instanceof FleetgateError)) deps.log.error({ err }, "control call failed");
      callback(toGrpcError(err) as grpc.ServiceError);
    };
    try {
      const res = fn(call.request, authorize(deps, call, method));
      if (res instanceof Promise) res.then((r) => callback(null, r), fail);
      else callback(null, res);
    } catch (err) {
      fail(err);
    }
  };
}

/** Resolves once grpc-js can take more, or the caller went away (then nothing more is written). */
function writable(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("cancelled", done);
      resolve();
    };
    call.once("drain", done);
    call.once("cancelled", done);
  });
}

/**
 * Wraps a server-streaming handler: auth, then each message `fn` yields, waiting whenever grpc-js
 * has enough buffered, then the end; a FleetgateError becomes the call's gRPC status.
 */
function streamed<Req, Res>(deps: ControlServiceDeps, fn: (req: Req, who: Identity) => Iterable<Res>): ForMethod<grpc.handleServerStreamingCall<Req, Res>> {
  return (method) => (call) => {
    void (async () => {
      try {
        const who = authorize(deps, call, method);
        for (const msg of fn(call.request, who)) {
          if (call.cancelled) return;
          if (!call.write(msg)) await writable(call);
        }
        call.end();
      } catch (err) {
        if (!(err instanceof FleetgateError)) deps.log.error({ err }, "control call failed");
        call.emit("error", Object.assign(new Error(String(err)), toGrpcError(err)));
      }
    })();
  };
}

function tokenInfo(t: EnrollTokenRow): pb.TokenInfo {
  return create(pb.TokenInfoSchema, {
    id: t.id,
    description: t.description,
    createdAtMs: BigInt(t.createdAt),
    expiresAtMs: BigInt(t.expiresAt),
    maxUses: t.maxUses,
    uses: t.uses,
    revokedAtMs: BigInt(t.revokedAt ?? 0),
  });
}

function userInfo(t: PersonToken): pb.UserInfo {
  return create(pb.UserInfoSchema, {
    name: t.name,
    role: t.role,
    tokenId: t.id,
    createdAtMs: BigInt(t.createdAt),
    createdBy: t.createdBy,
    expiresAtMs: BigInt(t.expiresAt ?? 0),
    revokedAtMs: BigInt(t.revokedAt ?? 0),
  });
}

/** The longest an enrollment token may be valid: ten years. */
const MAX_TOKEN_TTL_MS = 3650 * 86_400_000;

export function controlServiceHandlers(deps: ControlServiceDeps) {
  const { db } = deps;
  const bootstrapInfo = () => create(pb.UserInfoSchema, { name: BOOTSTRAP_ADMIN.name, role: BOOTSTRAP_ADMIN.role, tokenId: tokenId(hashToken(deps.adminToken)), bootstrap: true });
  const registeredNode = (name: string): NodeRow => {
    const node = getNode(db, name);
    if (!node) throw new FleetgateError("not_found", `no node ${name}; list them with: coord nodes`);
    return node;
  };
  /** A connected node keeps its name: freeing or handing it over waits until its agent stops. */
  const refuseWhileConnected = (node: NodeRow): void => {
    const name = node.identity.name;
    if (deps.sessions.isOnline(name)) throw new FleetgateError("conflict", `node ${name} is connected now (machine-id ${node.identity.machineId.slice(0, 12)}); stop its agent first, or it keeps the name`);
  };
  return bindMethods({
    listNodes: unary(deps, (): pb.ListNodesResponse => {
      const nodes = listNodes(db);
      const flags = attestationFlags(nodes, deps.ownHost, (node) => deps.sessions.cloneOf(node));
      const claims = listClaims(db);
      return create(pb.ListNodesResponseSchema, {
        transport: deps.transport,
        coordinatorVersion: FLEETGATE_VERSION,
        nodes: nodes.map((n) => ({
          ...lifecycleInfo(n, deps),
          health: deps.sessions.healthOf(n.identity.name),
          flags: flags.get(n.identity.name) ?? [],
          conflict: claimInfo(claims.get(n.identity.name)),
          outdated: isOutdated(n.identity.agentVersion, FLEETGATE_VERSION),
        })),
      });
    }),

    forgetNode: unary(deps, (req: pb.ForgetNodeRequest, who): pb.ForgetNodeResponse => {
      const node = registeredNode(req.name);
      refuseWhileConnected(node);
      forgetNode(db, req.name);
      noteForgotten(db, req.name, node.identity.machineId, who.name);
      deps.log.warn({ node: req.name, machineId: node.identity.machineId, by: who.name }, "node forgotten: the next machine to enroll takes the name");
      return create(pb.ForgetNodeResponseSchema, { node: offlineInfo(node) });
    }),

    replaceNode: unary(deps, (req: pb.ReplaceNodeRequest, who): pb.ReplaceNodeResponse => {
      const node = registeredNode(req.name);
      const claim = getClaim(db, req.name);
      if (!claim) throw new FleetgateError("conflict", `no other machine has claimed ${req.name}; start the replacement's agent with an enrollment token first, then run this again (or free the name for anyone: coord nodes forget ${req.name})`);
      refuseWhileConnected(node);
      approveClaim(db, req.name);
      deps.log.warn({ node: req.name, machineId: node.identity.machineId, claimant: claim.machineId, by: who.name }, "node replaced: the claimant's next enrollment takes the name");
      return create(pb.ReplaceNodeResponseSchema, { node: offlineInfo(node), claimant: claimInfo(claim) });
    }),

    createToken: unary(deps, (req: pb.CreateTokenRequest, who): pb.CreateTokenResponse => {
      const ttlMs = Number(req.ttlSeconds) * 1000;
      if (!(ttlMs > 0)) throw new FleetgateError("bad_input", "token ttl must be positive, e.g. --ttl 24h");
      // Past this an expiry is no date at all (found by fuzzing: stored, then unlistable).
      if (ttlMs > MAX_TOKEN_TTL_MS) throw new FleetgateError("bad_input", `token ttl ${req.ttlSeconds} s is more than the ${MAX_TOKEN_TTL_MS / 86_400_000}d a token may live; give e.g. --ttl 30d`);
      if (req.maxUses < 0) throw new FleetgateError("bad_input", "token uses must be 0 (any number until it expires) or more, e.g. --uses 1");
      const { token, id, expiresAt } = createEnrollToken(db, ttlMs, req.description, Date.now(), req.maxUses);
      deps.log.info({ token: id, expiresAt: new Date(expiresAt).toISOString(), maxUses: req.maxUses, by: who.name }, "enrollment token created");
      return create(pb.CreateTokenResponseSchema, { token, id, expiresAtMs: BigInt(expiresAt) });
    }),

    listTokens: unary(deps, (): pb.ListTokensResponse => create(pb.ListTokensResponseSchema, { tokens: listEnrollTokens(db).map(tokenInfo) })),

    revokeToken: unary(deps, (req: pb.RevokeTokenRequest, who): pb.RevokeTokenResponse => {
      const token = revokeEnrollToken(db, req.id.trim());
      deps.log.warn({ token: token.id, by: who.name }, "enrollment token revoked");
      return create(pb.RevokeTokenResponseSchema, { token: tokenInfo(token) });
    }),

    startRun: unary(deps, (req: pb.StartRunRequest, who): pb.StartRunResponse => {
      const { runId, plan, resolved } = startRun(deps, req);
      deps.log.info({ run: runId, by: who.name, plan: plan.name, mode: resolved.mode, tasks: resolved.tasks.length, overrides: resolved.overrides.map((o) => o.name) }, resolved.notes.join("; "));
      return create(pb.StartRunResponseSchema, { runId });
    }),

    // The dry run: reads the roster and history, writes no row, sends nothing to an agent (DESIGN rule 4).
    resolvePlan: unary(deps, (req: pb.ResolvePlanRequest): pb.ResolvePlanResponse => {
      if (!req.run) throw new FleetgateError("bad_input", "resolve plan: the request carries no run to resolve");
      const plan = dryRun(deps, req.run);
      deps.log.info({ plan: plan.planName, stages: plan.stages.map((s) => s.id) }, "dry run resolved; nothing started");
      return create(pb.ResolvePlanResponseSchema, { plan });
    }),

    // The whole run, in pieces when it is larger than one message may be (shared/grpc/run-pieces.ts).
    getRun: streamed(deps, (req: pb.GetRunRequest): pb.GetRunResponse[] => {
      // Without checks there is nothing to find flakes in: the caller has the verdict from the summary.
      const run = req.withoutChecks ? loadRunRecord(db, req.runId, { checks: false }) : runWithFlakes(db, req.runId, undefined, undefined, { output: !req.withoutOutput });
      if (!run) throw new FleetgateError("not_found", `no run ${req.runId}; list them with: coord runs`);
      return runPieces(run);
    }),

    // Summaries, one a message, each loaded and judged only when its turn comes.
    listRuns: streamed(deps, function* (req: pb.ListRunsRequest): Generator<pb.ListRunsResponse> {
      const filter = { planName: req.planName || undefined, signedOnly: req.signedOnly };
      // Neighbouring runs are each other's history: load each once for the whole list.
      const loaded: LoadedRuns = new Map();
      for (const r of listRuns(db, req.limit > 0 ? req.limit : 20, filter)) {
        const run = summarizeStored(db, r.id, loaded);
        if (run) yield create(pb.ListRunsResponseSchema, { run });
      }
    }),

    cancelRun: unary(deps, (req: pb.CancelRunRequest, who): pb.CancelRunResponse => {
      const run = getRun(db, req.runId);
      if (!run) throw new FleetgateError("not_found", `no run ${req.runId}; list them with: coord runs`);
      if (!deps.engine.requireFollowing().isActive(req.runId)) {
        throw new FleetgateError("conflict", `run ${req.runId} already finished (${statusName(run.status)}); nothing to cancel`);
      }
      deps.engine.cancel(req.runId, req.reason ? `cancelled: ${req.reason}` : "cancelled by coord cancel");
      deps.log.info({ run: req.runId, reason: req.reason, by: who.name }, "run cancelled");
      const tasks = loadRunRecord(db, req.runId, { output: false })?.tasks ?? [];
      const cancelled = tasks.filter((t) => t.status === Status.CANCELLED);
      return create(pb.CancelRunResponseSchema, {
        run: summarizeStored(db, req.runId),
        cancelled: cancelled.slice(0, CANCELLED_LISTED).map((t) => ({ ...t, checks: [] })),
        cancelledCount: cancelled.length,
        taskCount: tasks.length,
      });
    }),

    // The sign-off records who the token is: a typed name (--by) is only checked against it.
    signOff: unary(deps, (req: pb.SignOffRequest, who): pb.SignOffResponse => {
      const typed = req.by.trim();
      if (typed && typed !== who.name) {
        deps.log.warn({ who: who.name, role: who.role, call: "signOff", run: req.runId, typed }, "control call refused: sign-off as someone else");
        throw new FleetgateError(
          "permission_denied",
          `this token is ${who.name}'s, not ${typed}'s: a sign-off records who is signed in; drop --by (it signs as ${who.name}), or let ${typed} sign off with their own token`,
        );
      }
      const pairs = (list: pb.Skip[]) => list.map((s) => ({ target: s.target, reason: s.reason }));
      const [accept, acceptOverrides] = [pairs(req.accept), pairs(req.acceptOverrides)];
      const run = signOff(db, { runId: req.runId, by: who.name, accept, acceptOverrides }, Date.now());
      // Committed: from here on nothing may turn the answer into an error, or the CLI would say
      // the sign-off failed while it is recorded.
      try {
        deps.log.info({ run: req.runId, by: run.signoff?.by, accepted: accept.map((a) => a.target), overrides: acceptOverrides.map((a) => a.target) }, "run signed off");
        deps.afterSignoff?.(req.runId);
      } catch (err) {
        deps.log.error({ err, run: req.runId }, "after the sign-off was recorded");
      }
      return create(pb.SignOffResponseSchema, { run });
    }),

    addUser: unary(deps, (req: pb.AddUserRequest, who): pb.AddUserResponse => {
      const role = req.role.trim();
      if (!isRole(role)) throw new FleetgateError("bad_input", `role ${JSON.stringify(req.role)}: expected one of ${ROLES.join(", ")}, e.g. --role operator`);
      const ttlMs = Number(req.ttlSeconds) * 1000;
      if (ttlMs < 0) throw new FleetgateError("bad_input", "a person's token ttl must be positive, e.g. --ttl 90d (or none: it does not expire)");
      const name = req.name.trim();
      const { token, user, replaced } = addPersonToken(db, { name, role, by: who.name, ttlMs: ttlMs > 0 ? ttlMs : undefined, replace: req.replace }, Date.now());
      deps.log.info({ person: name, role, token: user.id, expiresAt: user.expiresAt && new Date(user.expiresAt).toISOString(), replaced: replaced?.id, by: who.name }, "person token added");
      return create(pb.AddUserResponseSchema, { token, user: userInfo(user), replaced: replaced && userInfo(replaced) });
    }),

    listUsers: unary(deps, (): pb.ListUsersResponse => create(pb.ListUsersResponseSchema, { users: [bootstrapInfo(), ...listPersonTokens(db).map(userInfo)] })),

    revokeUser: unary(deps, (req: pb.RevokeUserRequest, who): pb.RevokeUserResponse => {
      const revoked = revokePersonToken(db, req.name.trim(), Date.now());
      deps.log.warn({ person: revoked.name, role: revoked.role, token: revoked.id, by: who.name }, "person token revoked");
      return create(pb.RevokeUserResponseSchema, { user: userInfo(revoked) });
    }),

    whoAmI: unary(deps, (_req: pb.WhoAmIRequest, who): pb.WhoAmIResponse => {
      if (who.bootstrap) return create(pb.WhoAmIResponseSchema, { user: bootstrapInfo() });
      const now = Date.now();
      const live = listPersonTokens(db).find((t) => t.name === who.name && tokenState(t, now) === "active");
      return create(pb.WhoAmIResponseSchema, { user: live ? userInfo(live) : { name: who.name, role: who.role } });
    }),

    drainNode: unary(deps, (req: pb.DrainNodeRequest, who): pb.DrainNodeResponse => {
      const { node, already } = drain(db, req.name, req.reason, who.name);
      deps.log.warn({ node: req.name, reason: req.reason, by: who.name, already }, "node drained: runs started from now on give it no task");
      return create(pb.DrainNodeResponseSchema, { node: lifecycleInfo(node, deps), already });
    }),

    undrainNode: unary(deps, (req: pb.UndrainNodeRequest, who): pb.UndrainNodeResponse => {
      const { node, wasDrained } = undrain(db, req.name, who.name);
      if (wasDrained) deps.log.info({ node: req.name, by: who.name }, "node undrained: it takes tasks again");
      return create(pb.UndrainNodeResponseSchema, { node: lifecycleInfo(node, deps), wasDrained });
    }),

    labelNode: unary(deps, (req: pb.LabelNodeRequest, who): pb.LabelNodeResponse => {
      // The CLI parsed k=v / k- already; a request from elsewhere is held to the same keys.
      const edits = parseLabelEdits([...Object.entries(req.set).map(([k, v]) => `${k}=${v}`), ...req.remove.map((k) => `${k}-`)]);
      const node = relabel(db, req.name, edits, who.name);
      deps.log.info({ node: req.name, set: edits.set, remove: edits.remove, labels: node.coordLabels, by: who.name }, "node labels changed");
      return create(pb.LabelNodeResponseSchema, { node: lifecycleInfo(node, deps) });
    }),

    // Asks tailscaled first when told to (bounded by the roster's timeout; a failure is the answer's error).
    listMissingMachines: unary(deps, async (req: pb.ListMissingMachinesRequest): Promise<pb.ListMissingMachinesResponse> => {
      const roster = deps.fleetRoster;
      if (roster && req.refresh) await deps.refreshFleetRoster?.();
      return create(pb.ListMissingMachinesResponseSchema, { roster: roster && rosterMessage(storedRoster(roster())) });
    }),

    // What the coordinator refused: totals by kind and the newest refusals (server/refusals.ts).
    listRefusals: unary(deps, (req: pb.ListRefusalsRequest): pb.ListRefusalsResponse => refusalList(deps.refusals, req.limit)),

    // Written as fast as the watcher reads, with a bounded backlog for a slow one (watch-stream.ts).
    watchRun: (method: ControlMethod) => (call: grpc.ServerWritableStream<pb.WatchRunRequest, pb.WatchRunResponse>): void => {
      try {
        authorize(deps, call, method);
        const runId = call.request.runId;
        if (!getRun(db, runId)) throw new FleetgateError("not_found", `no run ${runId}; list them with: coord runs`);
        const engine = deps.engine.requireFollowing();
        streamWatch(
          call,
          {
            subscribe(listener, ended) {
              const onUpdate = (id: string, update: pb.WatchRunResponse) => id === runId && listener(update);
              // The engine stopped following runs (shutdown, or the lead lost): end the watch, so the
              // CLI opens it again where the run is followed now, instead of waiting on silence.
              const onStopped = () => {
                deps.log.info({ run: runId }, `a watch of run ${runId} ended: this coordinator stopped following runs`);
                ended(Object.assign(new Error("stopped"), toGrpcError(new FleetgateError("unreachable", "this coordinator stopped following runs (shutting down, or no longer the active one); watch again"))));
              };
              engine.updates.on("update", onUpdate);
              engine.updates.once("stopped", onStopped);
              return () => {
                engine.updates.off("update", onUpdate);
                engine.updates.off("stopped", onStopped);
              };
            },
            snapshot() {
              // Without output tails: a watch shows progress, and the tails are the bulk of a run's
              // results (GetRun and the reports read them); each watch joining a large run held them all.
              const record = loadRunRecord(db, runId, { output: false });
              const summary = record && !engine.isActive(runId) ? summarizeStored(db, runId) : undefined;
              return { replay: replayTasks(record?.tasks ?? []), finished: summary && create(pb.WatchRunResponseSchema, { event: { case: "finished", value: summary } }) };
            },
          },
          {
            onEnd: (end) => {
              if (end.dropped) deps.log.warn({ run: runId, ...end }, `a watcher of run ${runId} fell behind: ${end.dropped} check updates were not sent to it (the stored run has them all)`);
            },
          },
        );
      } catch (err) {
        call.emit("error", Object.assign(new Error(String(err)), toGrpcError(err)));
      }
    },
  });
}

/**
 * The run so far as WatchRun updates: each task's check results, one a message, then the task.
 * A task is let go once sent, so a watcher reading a long replay slowly holds less and less of it.
 */
function* replayTasks(tasks: (pb.TaskRecord | undefined)[]): Generator<pb.WatchRunResponse> {
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i] as pb.TaskRecord;
    tasks[i] = undefined;
    for (const result of task.checks) {
      yield create(pb.WatchRunResponseSchema, { event: { case: "check", value: { taskId: task.taskId, nodeName: task.nodeName, stageId: task.stageId, iteration: task.iteration, result } } });
    }
    yield create(pb.WatchRunResponseSchema, { event: { case: "task", value: { ...task, checks: [] } } });
  }
}

function drainInfo(n: NodeRow): MessageInitShape<typeof pb.NodeDrainSchema> | undefined {
  return n.drain && { reason: n.drain.reason, atMs: BigInt(n.drain.at), by: n.drain.by };
}

/** The node after a drain, undrain or relabel, as `coord nodes` would list it. */
function lifecycleInfo(n: NodeRow, deps: ControlServiceDeps): MessageInitShape<typeof pb.NodeInfoSchema> {
  const name = n.identity.name;
  return { identity: n.identity, online: deps.sessions.isOnline(name), lastSeenMs: BigInt(n.lastSeen), registeredAtMs: BigInt(n.registeredAt), transport: n.transport, coordinatorLabels: n.coordLabels, drain: drainInfo(n) };
}

function claimInfo(c: NodeClaimRow | undefined): pb.NodeClaim | undefined {
  if (!c) return undefined;
  return create(pb.NodeClaimSchema, { machineId: c.machineId, hostname: c.hostname, address: c.address, attempts: BigInt(c.attempts), firstAtMs: BigInt(c.firstAt), lastAtMs: BigInt(c.lastAt) });
}

/** The registration as it stands, for a node whose name is about to be freed or handed over. */
function offlineInfo(node: NodeRow): MessageInitShape<typeof pb.NodeInfoSchema> {
  return { identity: node.identity, online: false, lastSeenMs: BigInt(node.lastSeen), registeredAtMs: BigInt(node.registeredAt) };
}
