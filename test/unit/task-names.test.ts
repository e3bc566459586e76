import { describe, expect, it } from "vitest";
import { taskLabel, taskTarget } from "../../shared/model/task-names.js";

const parts = (over: Partial<Parameters<typeof taskLabel>[0]> = {}) => ({ stageId: "fleet", stepId: "", role: "", nodeName: "node-b", iteration: 2, ...over });

describe("taskLabel", () => {
  it("names a single or fleet stage's task by its stage, node and iteration", () => {
    expect(taskLabel(parts())).toBe("fleet on node-b #2");
  });

  it("names a cross step by stage/step and the role it ran as, with the node bound to that role", () => {
    expect(taskLabel(parts({ stageId: "cross", stepId: "fetch", role: "peer", iteration: 1 }))).toBe("cross/fetch on peer (node-b)");
  });

  it("names a matrix leg, or a step with no role, by stage/step and node, never with an iteration (they run once)", () => {
    expect(taskLabel(parts({ stageId: "matrix", stepId: "e2e", nodeName: "node-a", iteration: 1 }))).toBe("matrix/e2e on node-a");
  });
});

describe("taskTarget", () => {
  it("is the stage for a stage's task, stage/step for a step or leg: the name --accept-skip takes", () => {
    expect(taskTarget(parts())).toBe("fleet");
    expect(taskTarget(parts({ stageId: "matrix", stepId: "e2e" }))).toBe("matrix/e2e");
  });
});
