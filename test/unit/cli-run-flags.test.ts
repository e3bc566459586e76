import { Command, CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { registerRunCommands } from "../../coordinator/cli/run-commands.js";
import { pairSkips, parseBinding, startRunRequest, type SkipToken } from "../../coordinator/cli/run-flags.js";
import { FleetgateError } from "../../shared/errors.js";
import { refusal } from "../support/refusal.js";

const skip = (value: string): SkipToken => ({ flag: "skip", value });
const reason = (value: string): SkipToken => ({ flag: "reason", value });


describe("pairSkips", () => {
  it("pairs each --skip with the --reason that follows it, in order", () => {
    expect(pairSkips([skip("fleet"), reason("nodes reimaged today"), skip("matrix/kvm"), reason("no nested KVM")])).toEqual([
      { target: "fleet", reason: "nodes reimaged today" },
      { target: "matrix/kvm", reason: "no nested KVM" },
    ]);
  });

  it("refuses a --skip with no reason, naming the skip and why a reason is needed", () => {
    const err = refusal(() => pairSkips([skip("fleet")]));
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe("--skip fleet needs --reason TEXT (why it is skipped is listed in every report)");
  });

  it("refuses two skips followed by one reason: the first would go without one", () => {
    expect(refusal(() => pairSkips([skip("fleet"), skip("matrix"), reason("why")])).message).toMatch(/^--skip fleet needs --reason/);
  });

  it("refuses a blank reason as no reason", () => {
    expect(refusal(() => pairSkips([skip("fleet"), reason("  ")])).message).toMatch(/^--skip fleet needs --reason/);
  });

  it("refuses a --reason that follows no --skip", () => {
    expect(refusal(() => pairSkips([reason("because")])).message).toBe('--reason "because" follows no --skip; write --skip STAGE_OR_LEG --reason TEXT');
  });
});

describe("parseBinding", () => {
  it("collects repeated ROLE=NODE into one map", () => {
    expect(parseBinding("reader=node-b", parseBinding("writer=node-a"))).toEqual({ writer: "node-a", reader: "node-b" });
  });

  it.each(["writer", "=node-a", "writer=", "writer=node-a=x", "writer = node-a", ""])("refuses the malformed binding %j", (text) => {
    expect(() => parseBinding(text)).toThrow(/expected ROLE=NODE, e\.g\. --bind writer=node-a/);
  });

  it("refuses one role bound to two nodes", () => {
    expect(() => parseBinding("writer=node-b", { writer: "node-a" })).toThrow("role writer is already bound to node-a; bind each role once");
  });
});

describe("startRunRequest", () => {
  it("sends every run flag, each skip marked as decided by --skip", () => {
    const flags = { plan: "gate.yaml", node: ["n1"], iterations: 3, skips: [{ target: "fleet", reason: "r" }], with: ["e2e"], quick: true, bind: { writer: "n1" }, only: ["api"], tags: ["smoke"], vars: { host: "10.0.0.5" }, waivers: "w.yaml", waiversYaml: "- {check: api}\n" };
    const probe = { path: "bin/probe.sh", content: new Uint8Array([35, 33]), executable: true };
    const req = startRunRequest(["all"], flags, { planYaml: "plan: p", suites: { "s.yaml": "suite: s" }, suiteFiles: { "s.yaml": [probe] } });
    expect(req).toEqual({
      onlyChecks: ["api"],
      tags: ["smoke"],
      planPath: "gate.yaml",
      planYaml: "plan: p",
      suites: { "s.yaml": "suite: s" },
      suiteFiles: { "s.yaml": { files: [probe] } },
      stages: ["all"],
      nodeNames: ["n1"],
      iterations: 3,
      skips: [{ target: "fleet", reason: "r", source: "--skip" }],
      withLegs: ["e2e"],
      quick: true,
      bindings: { writer: "n1" },
      vars: { host: "10.0.0.5" },
      waiversPath: "w.yaml",
      waiversYaml: "- {check: api}\n",
    });
  });
});

describe("coord run flags as typed", () => {
  // No coordinator and no token: a refusal must come before the CLI tries to reach either.
  function program(): Command {
    const p = new Command("coord").exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerRunCommands(p);
    return p;
  }
  // Port 1 on loopback: nothing listens, and nothing is dialled before the plan is read.
  const run = (...args: string[]) => program().parseAsync(["node", "coord", "run", "fleet", "--plan", "/nonexistent/plan.yaml", "--token", "t", "--coordinator", "127.0.0.1:1", ...args]);

  it("refuses --skip without --reason before reading the plan or reaching the coordinator", async () => {
    await expect(run("--skip", "fleet")).rejects.toThrow(new FleetgateError("bad_input", "--skip fleet needs --reason TEXT (why it is skipped is listed in every report)"));
  });

  it("pairs --skip and --reason by position even with other flags between them", async () => {
    // Pairing passes, so the next failure is reading the plan: proof the skip was accepted.
    await expect(run("--skip", "fleet", "--node", "n1", "--reason", "reimaged")).rejects.toThrow(/cannot read plan \/nonexistent\/plan\.yaml/);
  });

  it("makes a malformed --bind a usage error (exit 3 through reportFailure)", async () => {
    const err = await run("--bind", "writer").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommanderError);
    expect((err as CommanderError).message).toContain("expected ROLE=NODE");
  });
});
