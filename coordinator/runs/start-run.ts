// Starting a run, the use case: the request resolved against the roster by the one resolver,
// gated on the stages before it, checked by the coordinator's last say (evidence disk), stored
// with its scope and attestation, then handed to the engine. The dry run is the same decision,
// shown instead of started: it refuses exactly what a real run would, gating included.
import { randomBytes } from "node:crypto";
import { create, toJson } from "@bufbuild/protobuf";
import { NodeIdentitySchema, type NodeIdentity } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { WaiverSchema, type Waiver } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { markExpired, parseWaivers } from "../../shared/model/waivers.js";
import type { ResolvedPlan, StartRunRequest } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { Plan } from "../../shared/model/plan.js";
import type { AgentSessions } from "../fleet/sessions.js";
import { runAttestationFlags, type OwnHost } from "../judgement/attestation.js";
import { dryRunView } from "../sequencer/dry-run.js";
import type { RunEngine } from "../sequencer/engine.js";
import { checkGating } from "../sequencer/gating.js";
import type { RosterNode } from "../sequencer/node-choice.js";
import { planRevision } from "../sequencer/plan-run.js";
import type { ResolvedRun } from "../sequencer/run-types.js";
import { NARROWS_STAGES } from "../sequencer/scope.js";
import type { Db } from "../store/db.js";
import { listNodes, nodeLabels, type NodeRow } from "../store/nodes.js";
import { insertRun, latestStageOutcome, type RunOrigin } from "../store/runs.js";
import { DRY_RUN_ID, resolveStartRun } from "./run-request.js";
import { hashShipped } from "../../shared/model/suite-files.js";
import { insertRunFiles, type RunFiles } from "../store/run-files.js";
import { rosterOverride, storedRoster, type StoredFleetRoster } from "../fleet/run-roster.js";
import type { FleetRosterView } from "../fleet/tailscale-roster.js";

export interface StartRunDeps {
  db: Db;
  sessions: AgentSessions;
  engine: RunEngine;
  /** This host's machine-id and boot id: an agent reporting either runs on the coordinator itself. */
  ownHost: OwnHost;
  /** Last say before a run is stored and started, e.g. refusing when the evidence disk is full. */
  beforeRun?: (plan: Plan) => void;
  /** How the coordinator serves; recorded on each run, so a plaintext run says so in every report. */
  transport: "tls" | "plaintext";
  /** coord serve --tailscale-tag: the fleet roster as last polled; none without a tag. */
  fleetRoster?: () => FleetRosterView;
}

/** A run resolved but not started: what StartRun stores and the dry run shows. */
export interface DecidedRun {
  runId: string;
  plan: Plan;
  resolved: ResolvedRun;
  revision: string;
  roster: NodeRow[];
  /** coord run --waivers, parsed (file:line:col errors): every one given, expired or not. */
  waivers: Waiver[];
  /** The files each suite ships (`files:`), checked. */
  files: RunFiles;
  /** The Tailscale fleet machines without an agent now, when a tag is configured. */
  fleetRoster?: StoredFleetRoster;
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}

/** The roster as the resolver takes it: names, labels (the agent's with the coordinator's over them), who is connected now, who is drained. */
export function rosterOf(nodes: NodeRow[], sessions: AgentSessions): RosterNode[] {
  return nodes.map((n) => ({ name: n.identity.name, labels: nodeLabels(n), online: sessions.isOnline(n.identity.name), drained: n.drain?.reason }));
}

/** The node as a run records it: its identity with the labels the run's selectors matched. */
function asRunNode(n: NodeRow): NodeIdentity {
  return create(NodeIdentitySchema, { ...n.identity, labels: nodeLabels(n) });
}

/** Parses and resolves `req` against the roster now; reads the store, writes nothing, sends nothing. */
function resolveNow(deps: StartRunDeps, req: StartRunRequest, runId: string): DecidedRun {
  const roster = listNodes(deps.db);
  const waivers = req.waiversYaml ? parseWaivers(req.waiversYaml, req.waiversPath || "waivers.yaml") : [];
  // Parses the plan and every suite (file:line:col) before resolving.
  const { plan, resolved, files } = resolveStartRun(req, rosterOf(roster, deps.sessions), runId);
  // In the one decision both the run and the dry run use, so the dry run shows this override too.
  const fleetRoster = deps.fleetRoster && storedRoster(deps.fleetRoster());
  const fleetStages = new Set(plan.stages.filter((s) => s.kind === "fleet").map((s) => s.id));
  const override = rosterOverride(fleetRoster, resolved.tasks.some((t) => fleetStages.has(t.stageId)));
  if (override) resolved.overrides.push(override);
  const hashes = Object.fromEntries(Object.entries(files).map(([suite, list]) => [suite, hashShipped(list)]));
  return { runId, plan, resolved, revision: planRevision(req.planYaml, req.suites, hashes), roster, files, waivers, fleetRoster };
}

/** Whether the run may start now: every stage before it green (gating), and the coordinator's last say. */
function admit(deps: StartRunDeps, { plan, resolved, revision }: DecidedRun): void {
  const latest = (stageId: string) => latestStageOutcome(deps.db, plan.name, revision, stageId, NARROWS_STAGES);
  checkGating(plan, revision, resolved.stages.map((s) => s.id), resolved.skips.map((s) => s.target), latest);
  deps.beforeRun?.(plan);
}

/**
 * `coord run --dry-run`: the run StartRun would start, as the dry run shows it (DESIGN rule 4).
 * Bad input is refused exactly as StartRun refuses it; a run that resolves but may not start now
 * (gating, evidence disk) is shown with the refusal StartRun would give.
 */
export function dryRun(deps: StartRunDeps, req: StartRunRequest): ResolvedPlan {
  const decided = resolveNow(deps, req, DRY_RUN_ID);
  const view = dryRunView(decided.plan, decided.resolved);
  try {
    admit(deps, decided);
  } catch (err) {
    if (!(err instanceof FleetgateError) || err.code === "internal") throw err;
    view.refusal = err.message;
  }
  return view;
}

/**
 * Stores the run with its scope and attestation, and starts it. A run that carries out a rollout
 * phase says so (`origin`): it is a step of the rollout, never a gate run that can be signed off.
 */
export function startRun(deps: StartRunDeps, req: StartRunRequest, origin?: RunOrigin): DecidedRun {
  deps.engine.requireFollowing();
  const decided = resolveNow(deps, req, newRunId());
  admit(deps, decided);
  if (origin) decided.resolved.unsignable.push(`${origin.phase} on ${origin.node} for rollout ${origin.rollout}: a rollout phase, not a gate run of the plan`);
  const { runId, plan, resolved, revision, roster, files } = decided;
  const createdAt = Date.now();
  // Expiry is judged once, at the run's start, and stored: the run reads the same forever.
  const waivers = markExpired(decided.waivers, createdAt).map((w) => toJson(WaiverSchema, w));
  const inRun = roster.filter((n) => resolved.tasks.some((t) => t.node === n.identity.name));
  // One transaction: a run is never stored without the files its tasks are to carry.
  const store = deps.db.transaction(() => {
    insertRun(
      deps.db,
      {
        id: runId,
        planName: plan.name,
        planPath: req.planPath,
        planYaml: req.planYaml,
        suites: { ...req.suites },
        stages: resolved.stages.map((s) => s.id),
        flags: runAttestationFlags(inRun, deps.ownHost, (node) => deps.sessions.cloneOf(node)),
        createdAt,
        mode: resolved.mode,
        planRevision: revision,
        options: { skips: resolved.skips, withLegs: [...req.withLegs], bindings: resolved.bindings, unsignable: resolved.unsignable, overrides: resolved.overrides, vars: { ...req.vars }, transport: deps.transport, waivers, fleetRoster: decided.fleetRoster, ...(origin ? { rollout: origin } : {}) },
        nodes: inRun.map(asRunNode),
      },
      resolved.tasks.map((t) => ({ ...t, nodeName: t.node })),
    );
    insertRunFiles(deps.db, runId, files);
  });
  store();
  deps.engine.begin(runId, resolved.stages);
  return decided;
}
