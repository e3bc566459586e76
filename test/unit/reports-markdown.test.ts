import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { markdownReport } from "../../coordinator/reports/markdown.js";
import { SignOffSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { expectGolden } from "../golden/expect-golden.js";
import { gateRun, greenRun, narrowedSignedOff, sampleRun } from "./run-report.fixture.js";

const md = (run = gateRun()) => markdownReport(run, judgeRun(run));

describe("markdownReport", () => {
  it("renders a gate run for release notes exactly as the golden file", () => {
    expectGolden("gate-run.md", md());
  });

  it("puts the verdict and every reason before anything else", () => {
    const run = gateRun();
    const j = judgeRun(run);
    const lines = md(run).split("\n");
    expect(lines[0]).toBe("# Run g1 — release: NO-GO");
    expect(lines[2]).toBe("**Verdict: NO-GO** — cannot be signed off");
    expect(lines.slice(4, 4 + j.reasons.length)).toEqual(j.reasons.map((r) => `- ${r}`));
  });

  it("lists every skip: before the run, a whole task, and a check, with source and reason", () => {
    const text = md(sampleRun());
    expect(text).toContain("| after | prim | 1 | gate | stage fleet did not pass (failed) | no |");
    const gate = md();
    expect(gate).toContain("| matrix/kvm | — | — | --skip | nested KVM disabled on the only matching host | no |");
    expect(gate).toContain("| fleet/wipe-volume | node-b | 2 | check | destructive; stage does not allow destructive checks | no |");
  });

  it("says the run's scope right after the reasons: full, or narrowed with every override and each one accepted at sign-off", () => {
    const run = gateRun();
    const lines = md(run).split("\n");
    const after = 4 + judgeRun(run).reasons.length + 1;
    expect(lines.slice(after, after + 2)).toEqual(["scope: full", ""]);
    const narrowed = md(narrowedSignedOff(gateRun()));
    expect(narrowed).toContain(
      "\nscope: narrowed — iterations 1 of 2 on fleet; node subset: node-b of node-a, node-b on fleet\n\n- accepted at sign-off by ana: iterations — the second iteration ran in yesterday's run\n\n| | |\n",
    );
  });

  it("lists a leg skipped by its failed requires: probe with the skips, not among the checks that did not pass", () => {
    const text = md();
    expect(text).toContain('| matrix/plasma | node-a | 1 | gate | requires probe.nested-kvm: expected /sys/module/kvm_intel/parameters/nested to contain "Y", saw "N"; hint: enable nested KVM (options kvm-intel nested=1) and reboot once | no |');
    const notPassed = text.slice(text.indexOf("## Checks that did not pass"));
    expect(notPassed).toContain("| read-doc |");
    expect(notPassed).not.toContain("probe.nested-kvm");
  });

  it("gives each check that did not pass one reproduce line, quoted for a shell", () => {
    const text = md();
    expect(text).toContain("- fleet http, on node-b: `fleetgate-agent check plans/suites/app.yaml --only http`");
    expect(text).toContain("- handoff/read read-doc, from the workstation (node-b): `coord run handoff --plan plans/gate.yaml --bind writer=node-a --bind reader=node-b`");
  });

  it("shows the sign-off with the skips accepted by name", () => {
    const signoff = create(SignOffSchema, { by: "ops@example", atMs: 1_732_515_600_000n, accepted: [{ target: "matrix/kvm", reason: "no nested KVM this quarter", source: "sign-off" }] });
    const text = md(gateRun({ signoff }));
    expect(text).toContain("Signed off by ops@example at 2024-11-25T06:20:00.000Z.");
    expect(text).toContain("- `matrix/kvm`: no nested KVM this quarter");
    expect(text).toContain("| matrix/kvm | — | — | --skip | nested KVM disabled on the only matching host | yes |");
  });

  it("keeps markup, pipes and newlines in run data from breaking tables or rendering as HTML", () => {
    const text = md();
    expect(text).toContain("| restart nginx \\| check \\<upstream\\> logs |");
    expect(text).not.toContain("<upstream>");
  });

  it("reads a green full run as GO with clean attestation", () => {
    const text = md(greenRun());
    expect(text.split("\n")[0]).toBe("# Run g1 — release: GO");
    expect(text).toContain("**Verdict: GO** — can be signed off");
    expect(text).toContain("Clean: every result came from the host of the node it names.");
    expect(text).not.toContain("## Checks that did not pass");
  });

  it("gives the same bytes for the same run", () => {
    expect(md()).toBe(md());
  });
});
