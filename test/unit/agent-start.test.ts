// `fleetgate-agent check` (and --help) load the suite parser and the check engine, not what only
// the daemon needs: gRPC, the logger, the spool and the agent protocol's descriptors (issue 16: a
// one-check `check` is measured against V8's start). Proved by listing every module the ESM
// loader resolves while the agent runs.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { moduleTracer } from "../support/modules-loaded.js";

const AGENT = resolve("bin/fleetgate-agent.js");
const tracer = moduleTracer();
const dir = mkdtempSync(join(tmpdir(), "fleetgate-agent-start-"));
afterAll(() => {
  tracer.remove();
  rmSync(dir, { recursive: true, force: true });
});

// What only `fleetgate-agent run` needs.
const DAEMON_ONLY = [/\/node_modules\/@grpc\/grpc-js\//, /\/node_modules\/pino\//, /\/node_modules\/prom-client\//, /\/dist\/agent\/daemon\/spool\.js$/, /\/dist\/agent\/daemon\/connection\.js$/, /\/dist\/shared\/gen\/fleetgate\/v1\/agent_pb\.js$/];

describe("the agent's start", () => {
  it("loads no daemon-only module for --help and for check of a one-check suite", () => {
    const suite = join(dir, "one.suite.yaml");
    writeFileSync(suite, 'suite: one\nchecks:\n  - id: t\n    command: { argv: ["true"] }\n');
    for (const args of [["--help"], ["check", "--help"], ["check", suite]]) {
      const loaded = tracer.modulesLoadedBy(AGENT, args);
      expect(loaded.some((u) => u.endsWith("/dist/agent/cli/main.js")), `fleetgate-agent ${args.join(" ")}`).toBe(true);
      expect(loaded.filter((u) => DAEMON_ONLY.some((p) => p.test(u))), `fleetgate-agent ${args.join(" ")}`).toEqual([]);
    }
    // The check itself ran: its engine was loaded.
    expect(tracer.modulesLoadedBy(AGENT, ["check", suite]).some((u) => u.endsWith("/dist/agent/engine/run-suite.js"))).toBe(true);
  });
});
