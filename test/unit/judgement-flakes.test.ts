import { describe, expect, it } from "vitest";
import { findFlakes } from "../../coordinator/judgement/flakes.js";
import { Status } from "../../shared/model/status.js";
import { check, greenTasks, run, task } from "./judgement-runs.js";

const { PASSED, FAILED } = Status;

/** A run where fleet/http on n1 ended `status`; everything else green. */
function httpOn(runId: string, status: Status, extra: Parameters<typeof run>[0] = {}) {
  return run({ runId, tasks: [task("fleet", "n1", 1, status, [check("http", status)])], ...extra });
}

describe("findFlakes", () => {
  it("finds a check that passed and failed on one node across this run's iterations", () => {
    const r = run({ tasks: [task("fleet", "n1", 1, PASSED, [check("http", PASSED)]), task("fleet", "n1", 2, FAILED, [check("http", FAILED)])] });
    expect(findFlakes(r, [])).toEqual([{ stageId: "fleet", node: "n1", checkId: "http", passed: 1, total: 2, runIds: ["r1"] }]);
  });

  it("finds a check that passed now and failed in an earlier run of the same revision, run ids newest first", () => {
    const history = [httpOn("h2", PASSED), httpOn("h1", FAILED)];
    expect(findFlakes(httpOn("r1", PASSED), history)).toEqual([{ stageId: "fleet", node: "n1", checkId: "http", passed: 2, total: 3, runIds: ["r1", "h2", "h1"] }]);
  });

  it("finds nothing when every run of the revision agrees", () => {
    expect(findFlakes(run(), [run({ runId: "h1" }), run({ runId: "h2" })])).toEqual([]);
  });

  it("ignores runs of another plan revision", () => {
    expect(findFlakes(httpOn("r1", PASSED), [httpOn("h1", FAILED, { planRevision: "rev0" })])).toEqual([]);
  });

  it("ignores quick runs", () => {
    expect(findFlakes(httpOn("r1", PASSED), [httpOn("h1", FAILED, { mode: "quick" })])).toEqual([]);
  });

  it("looks at only the last k comparable runs, skipping the ones it ignores", () => {
    const history = [httpOn("q1", PASSED, { mode: "quick" }), httpOn("h2", PASSED), httpOn("h1", FAILED)];
    expect(findFlakes(httpOn("r1", PASSED), history, 1)).toEqual([]);
    expect(findFlakes(httpOn("r1", PASSED), history, 2)).toHaveLength(1);
  });

  it("does not count the judged run twice when history holds it too", () => {
    const r = httpOn("r1", PASSED);
    expect(findFlakes(r, [r, httpOn("h1", FAILED)])[0]?.total).toBe(2);
  });

  it("uses no history for a run without a plan revision", () => {
    expect(findFlakes(httpOn("r1", PASSED, { planRevision: "" }), [httpOn("h1", FAILED, { planRevision: "" })])).toEqual([]);
  });

  it("does not call a check flaky when it passed on one node and failed on another", () => {
    const r = run({ tasks: [task("fleet", "n1", 1, PASSED, [check("http", PASSED)]), task("fleet", "n2", 1, FAILED, [check("http", FAILED)])] });
    expect(findFlakes(r, [])).toEqual([]);
  });

  it("counts only passed and failed outcomes, not skipped or not ready", () => {
    const r = run({
      tasks: [
        task("fleet", "n1", 1, PASSED, [check("http", PASSED)]),
        task("fleet", "n1", 2, Status.SKIPPED, [check("http", Status.SKIPPED)]),
        task("fleet", "n1", 3, Status.NOT_READY, [check("http", Status.NOT_READY)]),
      ],
    });
    expect(findFlakes(r, [])).toEqual([]);
  });

  it("reports only checks this run observed, not flakes of stages it did not run", () => {
    const history = [run({ runId: "h1", tasks: [task("soak", "n1", 1, PASSED, [check("load", PASSED)]), task("soak", "n1", 2, FAILED, [check("load", FAILED)])] })];
    expect(findFlakes(run(), history)).toEqual([]);
  });

  it("keeps cross steps and matrix legs apart: the same check id in two legs is two checks", () => {
    const r = run({
      tasks: [task("matrix", "n1", 1, PASSED, [check("smoke", PASSED)], { stepId: "a" }), task("matrix", "n1", 1, FAILED, [check("smoke", FAILED)], { stepId: "b" })],
    });
    expect(findFlakes(r, [])).toEqual([]);
  });

  it("lists flakes sorted by stage, node and check whatever the task order", () => {
    const flip = (stage: string, node: string, id: string) => [task(stage, node, 1, PASSED, [check(id, PASSED)]), task(stage, node, 2, FAILED, [check(id, FAILED)])];
    const r = run({ tasks: [...flip("smoke", "prim", "echo"), ...flip("fleet", "n2", "http"), ...flip("fleet", "n1", "tcp"), ...flip("fleet", "n1", "http"), ...greenTasks()] });
    expect(findFlakes(r, []).map((f) => `${f.stageId} ${f.node} ${f.checkId}`)).toEqual(["fleet n1 http", "fleet n1 tcp", "fleet n2 http", "smoke prim echo"]);
  });
});
