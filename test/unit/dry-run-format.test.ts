// `coord run --dry-run` text, from a resolved plan: pure, so the whole output is pinned here.
import { describe, expect, it } from "vitest";
import { argvText, quoteArg } from "../../coordinator/cli/argv-text.js";
import { formatResolvedPlan } from "../../coordinator/cli/dry-run-format.js";
import { dryRunView } from "../../coordinator/sequencer/dry-run.js";
import type { RosterNode } from "../../coordinator/sequencer/node-choice.js";
import { resolveRun } from "../../coordinator/sequencer/plan-run.js";
import type { RunRequest } from "../../coordinator/sequencer/run-types.js";
import { parsePlan, type Plan } from "../../shared/model/plan.js";
import { parseSuite, type Suite } from "../../shared/model/suite.js";

const SUITE = parseSuite(
  `
suite: app-gate
vars: { host: 127.0.0.1 }
preconditions:
  - id: disk
    disk: { path: /var/lib, free: { gte: 1GiB } }
checks:
  - id: health
    tags: [quick]
    http: { url: "http://\${vars.host}:8080/health", status: 200 }
    timeout: 5s
    retry: { for: 1m, every: 5s }
  - id: unit
    systemd: { unit: app.service, scope: user }
  - id: restart
    destructive: true
    command: { argv: [systemctl, --user, restart, app.service], cwd: /srv/app, env: { MODE: "fast lane" } }
    then:
      tcp: { address: "\${vars.host}:8080" }
      retry: { for: 30s, every: 1s }
`,
  "app.suite.yaml",
);

const PLAN = parsePlan(
  `
plan: gate
stages:
  - id: smoke
    kind: single
    suite: app.suite.yaml
    node: { role: primary }
    iterations: 2
  - id: fleet
    kind: fleet
    suite: app.suite.yaml
    nodes: { role: fleet }
    parallel: 2
    allow_destructive: true
  - id: handover
    kind: cross
    roles: { a: { role: fleet }, b: { role: fleet } }
    steps:
      - id: publish
        on: a
        command: { argv: [pub, --json] }
        capture: { doc: { json: .id } }
      - parallel:
          - { on: a, command: { argv: [see, "\${a.doc}"] } }
          - { on: b, command: { argv: [see, "\${a.doc}"] } }
  - id: legs
    kind: matrix
    probes:
      kvm:
        file: { path: /dev/kvm }
        hint: enable KVM
    legs:
      - { id: quick, on: { role: primary }, requires: [kvm], command: { argv: [make, test] } }
      - { id: slow, on: { role: primary }, opt_in: true, requires: [kvm], command: { argv: [make, e2e] }, timeout: 30m }
`,
  "gate.yaml",
);

const ROSTER: RosterNode[] = [
  { name: "f1", labels: { role: "fleet" }, online: true },
  { name: "f2", labels: { role: "fleet" }, online: false },
  { name: "f3", labels: { role: "fleet" }, online: true },
  { name: "laptop", labels: { role: "dev" }, online: true },
  { name: "prim", labels: { role: "primary" }, online: true },
];

/** The dry run's text for `req`: the one resolution a real run would execute, shown. */
function dryRunText(plan: Plan, suites: Record<string, Suite>, over: Partial<RunRequest> = {}, roster = ROSTER): string {
  return formatResolvedPlan(dryRunView(plan, resolveRun(plan, suites, { stages: [], nodeNames: [], iterations: 0, ...over }, roster, "dry-run")));
}

const EXPECTED = String.raw`plan gate (gate.yaml): dry run; nothing was sent to any node and no run was recorded
mode: full
scope: full
skips: slow (opt-in): opt-in leg; run it with --with slow

stage smoke  (single, 2 iterations)
  suite       app.suite.yaml (app-gate)
  nodes       prim (role=primary)
  not chosen  f1: label mismatch (role=fleet; wants role=primary)
              f2: label mismatch (role=fleet; wants role=primary)
              f3: label mismatch (role=fleet; wants role=primary)
              laptop: dev node (role=dev takes gate work only when named with --node)
  preconditions (any failure: the node is not ready and no check runs)
    disk  disk  timeout 1m
      observes statfs /var/lib
  checks
    health  http  timeout 5s, retry for 1m every 5s
      $ curl -sS --max-time 5 -w $'\n%{http_code} %{time_total}\n' -- http://127.0.0.1:8080/health
    unit  systemd  timeout 1m
      $ systemctl --user show app.service -p Result,NRestarts,ExecMainStatus,LoadState,ActiveState,SubState,UnitFileState
    restart  command  timeout 1m  SKIPPED: destructive, and the stage does not set allow_destructive: true
      $ systemctl --user restart app.service
      cwd /srv/app
      env MODE='fast lane'
      then tcp  timeout 1m, retry for 30s every 1s
        observes TCP connect to 127.0.0.1:8080

stage fleet  (fleet, 1 iteration per node, up to 2 nodes at once)
  suite       app.suite.yaml (app-gate)
  nodes       f1 (role=fleet)
              f2 (role=fleet) OFFLINE: its work waits for it, and it is lost if it stays away
              f3 (role=fleet)
  not chosen  laptop: dev node (role=dev takes gate work only when named with --node)
              prim: label mismatch (role=primary; wants role=fleet)
  preconditions (any failure: the node is not ready and no check runs)
    disk  disk  timeout 1m
      observes statfs /var/lib
  checks
    health  http  timeout 5s, retry for 1m every 5s
      $ curl -sS --max-time 5 -w $'\n%{http_code} %{time_total}\n' -- http://127.0.0.1:8080/health
    unit  systemd  timeout 1m
      $ systemctl --user show app.service -p Result,NRestarts,ExecMainStatus,LoadState,ActiveState,SubState,UnitFileState
    restart  command  timeout 1m  DESTRUCTIVE: runs
      $ systemctl --user restart app.service
      cwd /srv/app
      env MODE='fast lane'
      then tcp  timeout 1m, retry for 30s every 1s
        observes TCP connect to 127.0.0.1:8080

stage handover  (cross, 1 iteration)
  roles       a (wants role=fleet) → f1 (role=fleet)
              b (wants role=fleet) → f3 (role=fleet)
  not chosen  f2: offline (online nodes fill a, b)
              laptop: dev node (role=dev takes gate work only when named with --node)
              prim: label mismatch (role=primary; a wants role=fleet, b wants role=fleet)
  steps, in order
    1. publish  on a (f1)  command  timeout 1m
      $ pub --json
      captures doc: json .id
    2.  parallel: these start together; all finish before the next step
      2.1  on a (f1)  command  timeout 1m
        $ see '${"${a.doc}"}'
      2.2  on b (f3)  command  timeout 1m
        $ see '${"${a.doc}"}'

stage legs  (matrix, 1 iteration)
  probes (run on a leg's node before a leg that requires them; a failure skips the leg)
    probe.kvm  file  timeout 1m
      observes stat /dev/kvm
      hint: enable KVM
  not chosen  f1: label mismatch (role=fleet; wants role=primary)
              f2: label mismatch (role=fleet; wants role=primary)
              f3: label mismatch (role=fleet; wants role=primary)
              laptop: dev node (role=dev takes gate work only when named with --node)
              (for every leg)
  legs, in order
    quick  on prim  requires probe.kvm
      runs  command  timeout 1m
        $ make test
    slow  SKIPPED: opt-in leg; run it with --with slow`;

describe("formatResolvedPlan", () => {
  it("prints every stage in order: nodes and why others are left out, suite, iterations, each check's exact command, steps and legs", () => {
    expect(dryRunText(PLAN, { "app.suite.yaml": SUITE }, { stages: ["all"] })).toBe(EXPECTED);
  });

  it("lists each leg's left-out nodes under the leg when the legs do not agree", () => {
    const plan = parsePlan(
      "plan: m\nstages:\n  - id: legs\n    kind: matrix\n    legs:\n      - { id: p, on: { role: primary }, command: { argv: [a] } }\n      - { id: f, on: { role: fleet }, command: { argv: [b] } }\n",
      "m.yaml",
    );
    const roster = [ROSTER[0], ROSTER[4]] as RosterNode[];
    const text = dryRunText(plan, {}, {}, roster);
    expect(text).toContain("    p  on prim\n      not chosen: f1: label mismatch (role=fleet; wants role=primary)\n");
    expect(text).toContain("    f  on f1\n      not chosen: prim: label mismatch (role=primary; wants role=fleet)\n");
    expect(text).not.toContain("(for every leg)");
  });
});

const QUICK_PLAN = parsePlan(
  `
plan: gate
quick: { stages: [smoke, legs] }
stages:
  - { id: smoke, kind: single, suite: app.suite.yaml, node: { role: primary } }
  - { id: fleet, kind: fleet, suite: app.suite.yaml, nodes: { role: fleet } }
  - id: legs
    kind: matrix
    legs:
      - { id: unit, on: { role: primary }, tags: [quick], command: { argv: [make, test] } }
      - { id: e2e, on: { role: primary }, command: { argv: [make, e2e] } }
`,
  "gate.yaml",
);

const QUICK_EXPECTED = String.raw`plan gate (gate.yaml): dry run; nothing was sent to any node and no run was recorded
mode: quick
scope: narrowed — quick: only checks tagged quick in stages smoke, legs; smoke skipped (--skip): primary reimaged
skips: smoke (--skip): primary reimaged
checks left out by --quick, --tags or --only are listed as SKIPPED: left out (the agent neither runs nor reports them)

stage smoke  (single)  SKIPPED: --skip: primary reimaged

stage fleet  (fleet)  SKIPPED: --quick: not one of the plan's quick stages (smoke, legs)

stage legs  (matrix, 1 iteration)
  not chosen  f1: label mismatch (role=fleet; wants role=primary)
              (for every leg)
  legs, in order
    unit  on prim
      runs  command  timeout 1m
        $ make test
    e2e  on prim
      runs  command  timeout 1m  SKIPPED: left out: not tagged quick
        $ make e2e`;

describe("formatResolvedPlan of a narrowed run", () => {
  it("says the mode, the scope as every report words it, and the skips; shows skipped stages with their reason and left-out checks as such", () => {
    const roster = [ROSTER[0], ROSTER[4]] as RosterNode[];
    const text = dryRunText(QUICK_PLAN, { "app.suite.yaml": SUITE }, { quick: true, skips: [{ target: "smoke", reason: "primary reimaged" }] }, roster);
    expect(text).toBe(QUICK_EXPECTED);
  });
});

describe("argvText", () => {
  it("leaves plain words alone and quotes what a shell would split or expand, so the line pastes back to the same argv", () => {
    expect(argvText(["cargo", "test", "-p", "flaredb", "--", "--ignored"])).toBe("cargo test -p flaredb -- --ignored");
    expect(quoteArg("{{json .State}}")).toBe("'{{json .State}}'");
    expect(quoteArg("${origin.doc_id}")).toBe("'${origin.doc_id}'");
    expect(quoteArg("it's")).toBe(`'it'\\''s'`);
    expect(quoteArg("")).toBe("''");
  });

  it("spells newlines and other control characters as $'…' escapes, keeping one line per command", () => {
    expect(quoteArg("\n%{http_code} %{time_total}\n")).toBe("$'\\n%{http_code} %{time_total}\\n'");
    expect(quoteArg("a\tb'\\c\x01")).toBe("$'a\\tb\\'\\\\c\\x01'");
  });
});
