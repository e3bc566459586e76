// ControlService: what the `coord` CLI calls. Every call must carry the admin token.
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import * as pb from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { runPieces } from "../../shared/grpc/run-pieces.js";
import { toGrpcError } from "../../shared/grpc/status.js";
import { Status, statusName } from "../../shared/model/status.js";
import type { Db } from "../store/db.js";
import { getNode, forgetNode, listNodes, type NodeRow } from "../store/nodes.js";
import { attestationFlags } from "../judgement/attestation.js";
import { getRun, listRuns } from "../store/runs.js";
import { createEnrollToken, listEnrollTokens, revokeEnrollToken, sameSecret, type EnrollTokenRow } from "../store/tokens.js";
import type { RunEngine } from "../sequencer/engine.js";
import { signOff } from "../runs/sign-off.js";
import { dryRun, startRun, type StartRunDeps } from "../runs/start-run.js";
import { runWithFlakes, summarizeStored, type LoadedRuns } from "../judgement/stored.js";
import { loadRunRecord } from "../store/run-record.js";
import type { AgentSessions } from "../fleet/sessions.js";

export interface ControlServiceDeps extends StartRunDeps {
  log: Logger;
  adminToken: string;
  /** After a sign-off is stored, e.g. to add it to the run's evidence bundle. */
  afterSignoff?: (runId: string) => void;
}

export function authorize(deps: ControlServiceDeps, metadata: grpc.Metadata): void {
  const header = String(metadata.get("authorization")[0] ?? "");
  const token = header.replace(/^Bearer\s+/i, "");
  if (!token) throw new FleetgateError("unauthenticated", "no admin token; pass --token, set FLEETGATE_TOKEN, or pass --state-dir of the coordinator (it holds admin.token)");
  if (!sameSecret(token, deps.adminToken)) throw new FleetgateError("unauthenticated", "admin token refused; use the one in STATE_DIR/admin.token of this coordinator");
}

/** Cancelled tasks a CancelRun answer names; the rest are counted (CancelRunResponse). */
const CANCELLED_LISTED = 100;

/** Wraps a unary handler: auth, then FleetgateError → gRPC status. */
function unary<Req, Res>(deps: ControlServiceDeps, fn: (req: Req) => Res) {
  return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
    try {
      authorize(deps, call.metadata);
      callback(null, fn(call.request));
    } catch (err) {
      if (!(err instanceof FleetgateError)) deps.log.error({ err }, "control call failed");
      callback(toGrpcError(err) as grpc.ServiceError);
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
function streamed<Req, Res>(deps: ControlServiceDeps, fn: (req: Req) => Iterable<Res>) {
  return (call: grpc.ServerWritableStream<Req, Res>): void => {
    void (async () => {
      try {
        authorize(deps, call.metadata);
        for (const msg of fn(call.request)) {
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

export function controlServiceHandlers(deps: ControlServiceDeps) {
  const { db } = deps;
  return {
    listNodes: unary(deps, (): pb.ListNodesResponse => {
      const nodes = listNodes(db);
      const flags = attestationFlags(nodes, deps.ownHost, (node) => deps.sessions.cloneOf(node));
      return create(pb.ListNodesResponseSchema, {
        nodes: nodes.map((n) => ({
          identity: n.identity,
          online: deps.sessions.isOnline(n.identity.name),
          health: deps.sessions.healthOf(n.identity.name),
          lastSeenMs: BigInt(n.lastSeen),
          registeredAtMs: BigInt(n.registeredAt),
          flags: flags.get(n.identity.name) ?? [],
        })),
      });
    }),

    forgetNode: unary(deps, (req: pb.ForgetNodeRequest): pb.ForgetNodeResponse => {
      const node = getNode(db, req.name);
      if (!node) throw new FleetgateError("not_found", `no node ${req.name}; list them with: coord nodes`);
      if (deps.sessions.isOnline(req.name)) {
        throw new FleetgateError("conflict", `node ${req.name} is connected now (machine-id ${node.identity.machineId.slice(0, 12)}); stop its agent first, or it keeps the name`);
      }
      forgetNode(db, req.name);
      deps.log.warn({ node: req.name, machineId: node.identity.machineId }, "node forgotten: the next machine to enroll takes the name");
      return create(pb.ForgetNodeResponseSchema, {
        node: { identity: node.identity, online: false, lastSeenMs: BigInt(node.lastSeen), registeredAtMs: BigInt(node.registeredAt) },
      });
    }),

    createToken: unary(deps, (req: pb.CreateTokenRequest): pb.CreateTokenResponse => {
      const ttlMs = Number(req.ttlSeconds) * 1000;
      if (!(ttlMs > 0)) throw new FleetgateError("bad_input", "token ttl must be positive, e.g. --ttl 24h");
      if (req.maxUses < 0) throw new FleetgateError("bad_input", "token uses must be 0 (any number until it expires) or more, e.g. --uses 1");
      const { token, id, expiresAt } = createEnrollToken(db, ttlMs, req.description, Date.now(), req.maxUses);
      deps.log.info({ token: id, expiresAt: new Date(expiresAt).toISOString(), maxUses: req.maxUses }, "enrollment token created");
      return create(pb.CreateTokenResponseSchema, { token, id, expiresAtMs: BigInt(expiresAt) });
    }),

    listTokens: unary(deps, (): pb.ListTokensResponse => create(pb.ListTokensResponseSchema, { tokens: listEnrollTokens(db).map(tokenInfo) })),

    revokeToken: unary(deps, (req: pb.RevokeTokenRequest): pb.RevokeTokenResponse => {
      const token = revokeEnrollToken(db, req.id.trim());
      deps.log.warn({ token: token.id }, "enrollment token revoked");
      return create(pb.RevokeTokenResponseSchema, { token: tokenInfo(token) });
    }),

    startRun: unary(deps, (req: pb.StartRunRequest): pb.StartRunResponse => {
      const { runId, plan, resolved } = startRun(deps, req);
      deps.log.info({ run: runId, plan: plan.name, mode: resolved.mode, tasks: resolved.tasks.length, overrides: resolved.overrides.map((o) => o.name) }, resolved.notes.join("; "));
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
      const run = runWithFlakes(db, req.runId);
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

    cancelRun: unary(deps, (req: pb.CancelRunRequest): pb.CancelRunResponse => {
      const run = getRun(db, req.runId);
      if (!run) throw new FleetgateError("not_found", `no run ${req.runId}; list them with: coord runs`);
      if (!deps.engine.isActive(req.runId)) {
        throw new FleetgateError("conflict", `run ${req.runId} already finished (${statusName(run.status)}); nothing to cancel`);
      }
      deps.engine.cancel(req.runId, req.reason ? `cancelled: ${req.reason}` : "cancelled by coord cancel");
      deps.log.info({ run: req.runId, reason: req.reason }, "run cancelled");
      const tasks = loadRunRecord(db, req.runId, { output: false })?.tasks ?? [];
      const cancelled = tasks.filter((t) => t.status === Status.CANCELLED);
      return create(pb.CancelRunResponseSchema, {
        run: summarizeStored(db, req.runId),
        cancelled: cancelled.slice(0, CANCELLED_LISTED).map((t) => ({ ...t, checks: [] })),
        cancelledCount: cancelled.length,
        taskCount: tasks.length,
      });
    }),

    signOff: unary(deps, (req: pb.SignOffRequest): pb.SignOffResponse => {
      const pairs = (list: pb.Skip[]) => list.map((s) => ({ target: s.target, reason: s.reason }));
      const [accept, acceptOverrides] = [pairs(req.accept), pairs(req.acceptOverrides)];
      const run = signOff(db, { runId: req.runId, by: req.by, accept, acceptOverrides }, Date.now());
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

    watchRun(call: grpc.ServerWritableStream<pb.WatchRunRequest, pb.WatchRunResponse>): void {
      try {
        authorize(deps, call.metadata);
        const runId = call.request.runId;
        if (!getRun(db, runId)) throw new FleetgateError("not_found", `no run ${runId}; list them with: coord runs`);
        // Subscribe before reading the store, so nothing between the two is missed.
        const listener = (id: string, update: pb.WatchRunResponse) => {
          if (id !== runId) return;
          call.write(update);
          if (update.event.case === "finished") stop();
        };
        const stop = () => {
          deps.engine.updates.off("update", listener);
          call.end();
        };
        deps.engine.updates.on("update", listener);
        call.on("cancelled", () => deps.engine.updates.off("update", listener));
        // The replay sends one check result a message, each bounded as the agent sent it.
        const record = loadRunRecord(db, runId);
        for (const task of record?.tasks ?? []) {
          for (const result of task.checks) {
            call.write(create(pb.WatchRunResponseSchema, { event: { case: "check", value: { taskId: task.taskId, nodeName: task.nodeName, stageId: task.stageId, iteration: task.iteration, result } } }));
          }
          call.write(create(pb.WatchRunResponseSchema, { event: { case: "task", value: { ...task, checks: [] } } }));
        }
        const summary = record && !deps.engine.isActive(runId) ? summarizeStored(db, runId) : undefined;
        if (summary) {
          call.write(create(pb.WatchRunResponseSchema, { event: { case: "finished", value: summary } }));
          stop();
        }
      } catch (err) {
        call.emit("error", Object.assign(new Error(String(err)), toGrpcError(err)));
      }
    },
  };
}
