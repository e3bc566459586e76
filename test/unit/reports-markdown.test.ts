import { describe, expect, it } from "vitest";
import { markdownReport } from "../../coordinator/reports/markdown.js";
import { Status } from "../../shared/model/status.js";
import { sampleRun } from "./run-report.fixture.js";

const EXPECTED = `# Run r1 — release: FAILED

- plan: \`plans/gate.yaml\`
- stages: smoke, fleet, after
- started: 2024-05-01T08:00:00.000Z
- finished: 2024-05-01T08:10:00.000Z

## Not valid for sign-off

- nodes n2, n3 share machine-id 1f2e3d4c

## Stages

| stage | node | iterations | status | detail |
|---|---|---|---|---|
| smoke | prim | 2/2 | passed |  |
| fleet | n1 | 1/2 | failed | 1 of 2 checks failed |
| fleet | n2 | 0/1 | not_ready | precondition synced: node not ready |
| fleet | n3 | 0/1 | lost | node n3 lost: not connected for 5 min |
| after | prim | 0/1 | skipped | stage fleet did not pass (failed) |

## Checks that did not pass

| stage | node | # | check | status | observed | hint |
|---|---|---|---|---|---|---|
| fleet | n1 | 2 | http | failed | expected status 200, saw 503 | restart nginx \\| check logs |
| fleet | n2 | 1 | synced (precondition) | not_ready | blocks 10/800000 IBD | wait for IBD to finish |

`;

describe("markdownReport", () => {
  it("renders a failed run with its not-ready, lost and skipped parts, escaping table cells", () => {
    expect(markdownReport(sampleRun())).toBe(EXPECTED);
  });

  it("gives the same bytes for the same run", () => {
    expect(markdownReport(sampleRun())).toBe(markdownReport(sampleRun()));
  });

  it("leaves out the sign-off section when attestation is clean and the finish line while running", () => {
    const run = sampleRun({ status: Status.RUNNING, attestationFlags: [] });
    run.finishedAtMs = 0n;
    const text = markdownReport(run);
    expect(text.startsWith("# Run r1 — release: RUNNING\n\n- plan: `plans/gate.yaml`\n- stages: smoke, fleet, after\n- started: 2024-05-01T08:00:00.000Z\n\n## Stages\n")).toBe(true);
    expect(text).not.toContain("Not valid for sign-off");
    expect(text).not.toContain("- finished:");
  });

  it("calls a run that was cancelled or lost incomplete, never passed", () => {
    for (const s of [Status.CANCELLED, Status.LOST, Status.NOT_READY, Status.SKIPPED, Status.ERROR]) {
      expect(markdownReport(sampleRun({ status: s })).split("\n")[0]).toBe("# Run r1 — release: INCOMPLETE");
    }
  });
});
