// Where alerts come from: the end of each run (NO-GO, attestation flags, a regression from the
// plan's known-good run), the fleet (a node offline past the grace, or lost) and the evidence
// disk. Each condition raises its (kind, subject) alert and resolves it when it clears; the
// scheduled-run INCOMPLETE alert is the scheduler's (coordinator/schedules/scheduler.ts).
import type { Logger } from "../../shared/logging.js";
import { checkFreeSpace, statfsFreeBytes, type FreeBytesProbe } from "../evidence/disk.js";
import type { AgentSessions } from "../fleet/sessions.js";
import { diffRuns } from "../judgement/diff.js";
import { judgeStoredWithoutOutput, type JudgedRun } from "../judgement/stored.js";
import type { Db } from "../store/db.js";
import { loadRunRecord } from "../store/run-record.js";
import { listRuns, runOrigin } from "../store/runs.js";
import type { AlertSink } from "./alerts.js";

/** Flags the scheduler adds when a bound ends a run: said by the scheduled-run alert, not as attestation. */
const BOUND_FLAG = /^schedule \S+ hit its bound/;

/**
 * After a run finished: alerts on its verdict, its attestation flags and regressions from
 * known-good. `judged`: the run as the engine judged it for its summary, else read here.
 */
export function alertOnRunEnd(db: Db, alerts: AlertSink, runId: string, judged?: JudgedRun): void {
  // A rollout's phase runs are judged by the rollout, which alerts on its own terms.
  if (runOrigin(db, runId)) return;
  // Without output: only statuses matter here, and a large run's output is most of its size.
  const found = judged ?? judgeStoredWithoutOutput(db, runId);
  if (!found) return;
  const { run, judgement } = found;
  const plan = run.planName;
  if (judgement.decision === "NO-GO") {
    alerts.raise({ kind: "run_no_go", subject: plan, summary: `run ${runId} of plan ${plan} is NO-GO: ${judgement.reasons[0] ?? ""}; see: coord show ${runId}`, details: { run: runId, reasons: judgement.reasons.slice(0, 10) } });
  } else if (judgement.decision === "GO") {
    alerts.resolve("run_no_go", plan, `run ${runId} of plan ${plan} is GO`);
  }

  const flags = run.attestationFlags.filter((f) => !BOUND_FLAG.test(f));
  if (flags.length) {
    alerts.raise({ kind: "attestation_flag", subject: plan, summary: `run ${runId} of plan ${plan} is not valid for sign-off: ${flags[0]}`, details: { run: runId, flags } });
  } else {
    alerts.resolve("attestation_flag", plan, `run ${runId} of plan ${plan} has no attestation flag`);
  }

  // The plan's last signed-off run is its known-good: a check that passed there and fails now regressed.
  const [known] = listRuns(db, 2, { planName: plan, signedOnly: true }).filter((r) => r.id !== runId);
  const good = known && loadRunRecord(db, known.id, { output: false });
  if (!good) return;
  const d = diffRuns(good, run);
  if (d.newlyFailing.length) {
    const first = d.newlyFailing[0]!;
    alerts.raise({
      kind: "known_good_regression",
      subject: plan,
      summary: `${d.newlyFailing.length} check(s) passed in known-good run ${good.runId} and fail in run ${runId}, e.g. ${first.check} on ${first.node} in ${first.stage}; see: coord diff ${good.runId} ${runId}`,
      details: { run: runId, knownGood: good.runId, newlyFailing: d.newlyFailing.slice(0, 20) },
    });
  } else if (!d.disappeared.length) {
    // Only a run that covered every check of the known-good run says the regression is gone.
    alerts.resolve("known_good_regression", plan, `run ${runId} passes what known-good run ${good.runId} passed`);
  }
}

/**
 * A node offline longer than `graceMs` (a flapping cellular link reconnects well within it), or
 * declared lost, is alerted; both clear when it is back. Returns the unhook, called before a
 * shutdown closes every stream (that is not the fleet going offline).
 */
export function alertOnNodes(sessions: AgentSessions, alerts: AlertSink, graceMs: number): () => void {
  const waiting = new Map<string, NodeJS.Timeout>();
  const onOffline = (node: string) => {
    clearTimeout(waiting.get(node));
    const t = setTimeout(() => {
      waiting.delete(node);
      if (!sessions.isOnline(node)) alerts.raise({ kind: "node_offline", subject: node, summary: `node ${node} has been offline for ${Math.round(graceMs / 1000)} s or more; see: coord nodes` });
    }, graceMs);
    t.unref();
    waiting.set(node, t);
  };
  const onLost = (node: string, why: string) => alerts.raise({ kind: "node_lost", subject: node, summary: why });
  const onOnline = (node: string) => {
    clearTimeout(waiting.get(node));
    waiting.delete(node);
    alerts.resolve("node_offline", node, `node ${node} is back online`);
    alerts.resolve("node_lost", node, `node ${node} is back online`);
  };
  sessions.on("offline", onOffline);
  sessions.on("lost", onLost);
  sessions.on("online", onOnline);
  return () => {
    sessions.off("offline", onOffline);
    sessions.off("lost", onLost);
    sessions.off("online", onOnline);
    for (const t of waiting.values()) clearTimeout(t);
  };
}

/** Free space under `dir` checked now: below `minFreeBytes` raises evidence_disk_low, enough resolves it. */
export function checkEvidenceDisk(alerts: AlertSink, dir: string, minFreeBytes: number, log: Logger, probe: FreeBytesProbe = statfsFreeBytes): void {
  try {
    checkFreeSpace(dir, minFreeBytes, probe);
    alerts.resolve("evidence_disk_low", dir, `enough free space under ${dir} again`);
  } catch (err) {
    if ((err as { code?: string }).code === "conflict") alerts.raise({ kind: "evidence_disk_low", subject: dir, summary: (err as Error).message });
    else log.warn({ dir, err }, "could not measure the free space under the evidence dir");
  }
}

/** Checks the evidence disk every `everyMs` (and once now); returns the stop. */
export function watchEvidenceDisk(alerts: AlertSink, dir: string, minFreeBytes: number, everyMs: number, log: Logger): () => void {
  checkEvidenceDisk(alerts, dir, minFreeBytes, log);
  const t = setInterval(() => checkEvidenceDisk(alerts, dir, minFreeBytes, log), everyMs);
  t.unref();
  return () => clearInterval(t);
}
