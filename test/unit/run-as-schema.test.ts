// `user:` in suites and plans (issue 15): a suite's user: is the default of its checks, a check's
// own replaces it and its then: inherits it; it applies only to kinds that run a program, and a
// user: the agent could not honour is refused where it is written.
import { describe, expect, it } from "vitest";
import { formatResolvedPlan } from "../../coordinator/cli/dry-run-format.js";
import { dryRunView } from "../../coordinator/sequencer/dry-run.js";
import type { RosterNode } from "../../coordinator/sequencer/node-choice.js";
import { resolveRun } from "../../coordinator/sequencer/plan-run.js";
import { parsePlan } from "../../shared/model/plan.js";
import { parseSuite } from "../../shared/model/suite.js";
import { refusal } from "../support/refusal.js";

const SUITE = `suite: s
user: nobody
preconditions:
  - id: podman-up
    podman: { running: [lnd] }
checks:
  - id: inherits
    systemd: { unit: lnd.service, scope: user }
  - id: own
    user: 1000
    command: { argv: ["true"] }
    then:
      command: { argv: ["true"] }
  - id: restart
    command: { argv: ["true"] }
    then:
      file: { path: /etc/hostname }
  - id: observed-by-the-agent
    disk: { path: /, free: { gte: 1GiB } }
`;

describe("user: in a suite", () => {
  const suite = parseSuite(SUITE, "s.yaml");
  const byId = (id: string) => [...suite.preconditions, ...suite.checks].find((c) => c.id === id);

  it("gives the suite's user to every check and precondition that runs a program", () => {
    expect(byId("podman-up")?.user).toBe("nobody");
    expect(byId("inherits")?.user).toBe("nobody");
  });

  it("lets a check's own user: replace the suite's, a uid written as a number kept as its digits, and its then: inherits it", () => {
    expect(byId("own")?.user).toBe("1000");
    expect(byId("own")?.then?.user).toBe("1000");
  });

  it("leaves kinds the agent observes itself (disk, a then: file) to the agent", () => {
    expect(byId("observed-by-the-agent")?.user).toBeUndefined();
    expect(byId("restart")?.user).toBe("nobody");
    expect(byId("restart")?.then?.user).toBeUndefined();
  });

  it("leaves every check to the agent when neither the suite nor the check says user:", () => {
    const plain = parseSuite(`suite: s\nchecks:\n  - id: a\n    command: { argv: ["true"] }\n`, "s.yaml");
    expect(plain.checks[0]?.user).toBeUndefined();
  });

  it("refuses user: on a check that runs no program, at the field, saying where user: does apply", () => {
    const err = refusal(() => parseSuite(`suite: s\nchecks:\n  - id: key\n    user: alice\n    file: { path: /home/alice/.ssh/id_ed25519, mode: "0600" }\n`, "s.yaml"));
    expect(err.message).toBe(
      "s.yaml:4:11 checks[0].user: a file check runs no program (the agent observes it itself), so user: does not apply to it; remove user:, or check it with a command: run as that user (user: applies to command, http, systemd, quadlet, bats, bitcoin, nginx, podman)",
    );
  });

  it("refuses a user name a shell or setpriv would misread, and a uid out of range, naming file, line and field", () => {
    expect(refusal(() => parseSuite(`suite: s\nuser: "-r"\nchecks:\n  - id: a\n    command: { argv: ["true"] }\n`, "s.yaml")).message).toBe(
      's.yaml:2:7 user: expected a user name like nobody or alice, or a numeric uid like 1000, got "-r"',
    );
    expect(refusal(() => parseSuite(`suite: s\nchecks:\n  - id: a\n    user: 4294967295\n    command: { argv: ["true"] }\n`, "s.yaml")).message).toBe(
      "s.yaml:4:11 checks[0].user: expected a user name like nobody or alice, or a numeric uid like 1000 (0–4294967294), got 4294967295",
    );
  });

  it("lists user among a check's fields when one is misspelt", () => {
    const err = refusal(() => parseSuite(`suite: s\nchecks:\n  - id: a\n    usr: nobody\n    command: { argv: ["true"] }\n`, "s.yaml"));
    expect(err.message).toContain("fields: id, timeout, retry, limits, user, destructive, tags, hint, capture, serial, then; did you mean user?");
  });
});

describe("user: in a plan", () => {
  it("carries a cross step's user: into the suite generated for it", async () => {
    const plan = parsePlan(
      `plan: p
stages:
  - id: x
    kind: cross
    roles: { a: { role: fleet } }
    steps:
      - on: a
        id: rootless
        user: alice
        podman: { running: [web] }
`,
      "p.yaml",
    );
    const roster: RosterNode[] = [{ name: "n1", labels: { role: "fleet" }, online: true }];
    const run = resolveRun(plan, {}, { stages: [], nodeNames: [], iterations: 0 }, roster, "r1");
    const task = run.tasks.find((t) => t.stepId === "rootless");
    // As the agent will parse it: the one check of the generated suite runs as alice.
    expect(task?.specYaml).toContain("user: alice");
    expect(task?.suite?.checks[0]?.user).toBe("alice");
  });

  it("refuses user: on a matrix leg that runs a suite: the suite says whom its checks run as", () => {
    const err = refusal(() =>
      parsePlan(`plan: p\nstages:\n  - id: m\n    kind: matrix\n    legs:\n      - id: l\n        on: { role: fleet }\n        suite: e2e.suite.yaml\n        user: alice\n`, "p.yaml"),
    );
    expect(err.message).toBe("p.yaml:9:15 stages[0].legs[0].user: a leg that runs a suite takes its user from the suite: write user: at the top of e2e.suite.yaml, or on its checks");
  });

  it("refuses user: on a probe that runs no program", () => {
    const err = refusal(() =>
      parsePlan(
        `plan: p\nstages:\n  - id: m\n    kind: matrix\n    probes:\n      kvm: { user: alice, file: { path: /dev/kvm } }\n    legs:\n      - id: l\n        on: { role: fleet }\n        requires: [kvm]\n        command: { argv: ["true"] }\n`,
        "p.yaml",
      ),
    );
    expect(err.message).toMatch(/^p\.yaml:6:\d+ stages\[0\]\.probes\.kvm\.user: a file check runs no program/);
  });
});

describe("coord run --dry-run of a suite with user:", () => {
  it("shows whom each program would run as, under its argv, and nothing for a kind the agent observes itself", () => {
    const suite = parseSuite(SUITE, "s.suite.yaml");
    const plan = parsePlan(`plan: p\nstages:\n  - id: fleet\n    kind: fleet\n    suite: s.suite.yaml\n    nodes: { role: fleet }\n`, "p.yaml");
    const roster: RosterNode[] = [{ name: "n1", labels: { role: "fleet" }, online: true }];
    const text = formatResolvedPlan(dryRunView(plan, resolveRun(plan, { "s.suite.yaml": suite }, { stages: [], nodeNames: [], iterations: 0 }, roster, "dry-run")));
    expect(text).toContain("    inherits  systemd  timeout 1m\n      $ systemctl --user show lnd.service -p Result,NRestarts,ExecMainStatus,LoadState,ActiveState,SubState,UnitFileState\n      as user nobody\n");
    expect(text).toContain("    own  command  timeout 1m\n      $ true\n      as user 1000\n      then command  timeout 1m\n        $ true\n        as user 1000\n");
    const lines = text.split("\n");
    const disk = lines.indexOf("    observed-by-the-agent  disk  timeout 1m");
    // The disk check is the suite's last: nothing follows its observation, no "as user" line.
    expect(lines.slice(disk + 1)).toEqual(["      observes statfs /"]);
    expect(text).toContain("      then file  timeout 1m\n        observes stat /etc/hostname\n    observed-by-the-agent");
  });
});
