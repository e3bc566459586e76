import { describe, expect, it } from "vitest";
import { FleetgateError } from "../../shared/errors.js";
import { KIND_NAMES } from "../../shared/model/kinds/index.js";
import { parseSuite } from "../../shared/model/suite.js";

function parseError(text: string, file = "bad.yaml"): FleetgateError {
  try {
    parseSuite(text, file);
  } catch (err) {
    if (err instanceof FleetgateError) return err;
    throw err;
  }
  throw new Error("expected parseSuite to refuse the suite");
}

const firstLine = (err: Error) => err.message.split("\n")[0];

// Messages name the kinds this build knows; the list grows as kinds are added.
const KINDS = KIND_NAMES.join(", ");

describe("parseSuite on a valid suite", () => {
  const text = `suite: node-gate
description: lnd on a primary node
vars:
  unit: lnd.service
  port: 8080
  strict: true
preconditions:
  - id: bitcoin-synced
    hint: wait for IBD to finish
    command:
      argv: [bitcoin-cli, getblockchaininfo]
      expect:
        json:
          initialblockdownload: false
checks:
  - id: lnd-active
    timeout: 10s
    retry: { for: 2m, every: 500ms }
    tags: [lnd, systemd]
    command:
      argv: [systemctl, is-active, "\${vars.unit}"]
  - id: wipe-and-restart
    destructive: true
    retry: { for: 30s }
    command:
      argv: ["true"]
  - id: health
    http:
      url: "http://127.0.0.1:\${vars.port}/health"
      status: 200
`;

  it("keeps preconditions apart from checks and marks them", () => {
    const suite = parseSuite(text, "node.yaml");
    expect(suite.name).toBe("node-gate");
    expect(suite.file).toBe("node.yaml");
    expect(suite.description).toBe("lnd on a primary node");
    expect(suite.preconditions.map((c) => [c.id, c.precondition])).toEqual([["bitcoin-synced", true]]);
    expect(suite.checks.map((c) => [c.id, c.kind, c.precondition])).toEqual([
      ["lnd-active", "command", false],
      ["wipe-and-restart", "command", false],
      ["health", "http", false],
    ]);
  });

  it("turns vars into text so they can be put into argv", () => {
    expect(parseSuite(text, "node.yaml").vars).toEqual({ unit: "lnd.service", port: "8080", strict: "true" });
  });

  it("pulls out the kind block as the spec and leaves ${...} for the run to expand", () => {
    const [lnd, , health] = parseSuite(text, "node.yaml").checks;
    expect(lnd?.spec).toEqual({ argv: ["systemctl", "is-active", "${vars.unit}"] });
    expect(health?.spec).toEqual({ url: "http://127.0.0.1:${vars.port}/health", status: 200 });
  });

  it("converts durations to ms, with a 60 s timeout and a 5 s retry interval by default", () => {
    const suite = parseSuite(text, "node.yaml");
    const [lnd, wipe, health] = suite.checks;
    expect(lnd?.timeoutMs).toBe(10_000);
    expect(lnd?.retry).toEqual({ forMs: 120_000, everyMs: 500 });
    expect(wipe?.retry).toEqual({ forMs: 30_000, everyMs: 5_000 });
    expect(health?.timeoutMs).toBe(60_000);
    expect(health?.retry).toBeUndefined();
  });

  it("keeps destructive, tags and hint, with safe defaults when absent", () => {
    const suite = parseSuite(text, "node.yaml");
    const [lnd, wipe] = suite.checks;
    expect([lnd?.destructive, wipe?.destructive]).toEqual([false, true]);
    expect([lnd?.tags, wipe?.tags]).toEqual([["lnd", "systemd"], []]);
    expect(suite.preconditions[0]?.hint).toBe("wait for IBD to finish");
    expect(lnd?.hint).toBeUndefined();
  });

  it("accepts a suite with no preconditions and no vars", () => {
    const suite = parseSuite("suite: s\nchecks:\n  - id: a\n    command:\n      argv: [\"true\"]\n", "s.yaml");
    expect(suite.preconditions).toEqual([]);
    expect(suite.vars).toEqual({});
  });
});

describe("parseSuite refuses a malformed suite, naming file:line:col and the field", () => {
  it("refuses an unknown check kind and names the kinds it knows", () => {
    const err = parseError(`suite: s
checks:
  - id: app-up
    docker:
      name: lnd
`);
    // docker, not podman: podman is a kind this project plans to add.
    expect(KIND_NAMES).not.toContain("docker");
    expect(KIND_NAMES).toEqual(expect.arrayContaining(["command", "http"]));
    expect(err.code).toBe("bad_input");
    // Only the unknown key is reported: "needs one kind block" would follow from it and hide it.
    expect(err.message).toBe(
      `bad.yaml:4:5 checks[0].docker: unknown check kind or field "docker"; kinds: ${KINDS}; fields: id, timeout, retry, limits, user, destructive, tags, hint, capture, serial, then`,
    );
  });

  it("refuses a misspelt field at the key that is misspelt", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    timout: 5s
    command:
      argv: ["true"]
`);
    expect(err.message).toBe(
      `bad.yaml:4:5 checks[0].timout: unknown check kind or field "timout"; kinds: ${KINDS}; fields: id, timeout, retry, limits, user, destructive, tags, hint, capture, serial, then; did you mean timeout?`,
    );
  });

  it("refuses a check without an id", () => {
    const err = parseError(`suite: s
checks:
  - command:
      argv: ["true"]
`);
    expect(err.message).toBe("bad.yaml:3:5 checks[0].id: required string is missing");
  });

  it("refuses an id with a space in it", () => {
    const err = parseError(`suite: s
checks:
  - id: "my check"
    command:
      argv: ["true"]
`);
    expect(err.message).toBe(`bad.yaml:3:9 checks[0].id: ids use letters, digits, '.', '_' and '-', got "my check"`);
  });

  it("refuses an id used twice, across preconditions and checks, naming the first use", () => {
    const err = parseError(`suite: s
preconditions:
  - id: synced
    command:
      argv: ["true"]
checks:
  - id: up
    command:
      argv: ["true"]
  - id: synced
    command:
      argv: ["true"]
`);
    expect(err.message).toBe('bad.yaml:10:9 checks[1].id: duplicate id "synced", first used at preconditions[0]');
  });

  it("refuses a duration written in words", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    timeout: 5 minutes
    command:
      argv: ["true"]
`);
    expect(err.message).toBe('bad.yaml:4:14 checks[0].timeout: expected a duration like 500ms, 30s, 5m, 1h, got "5 minutes"');
  });

  it("refuses a retry window without a valid duration", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    retry:
      for: 1x
    command:
      argv: ["true"]
`);
    expect(err.message).toBe('bad.yaml:5:12 checks[0].retry.for: expected a duration like 500ms, 30s, 5m, 1h, got "1x"');
  });

  it("refuses argv written as one string, since there is no shell", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    command:
      argv: "systemctl is-active lnd"
`);
    expect(err.message).toBe('bad.yaml:5:13 checks[0].command.argv: expected array, got "systemctl is-active lnd"');
  });

  it("refuses an unquoted true in argv, which YAML reads as a boolean", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    command:
      argv: [true]
`);
    expect(err.message).toBe('bad.yaml:5:14 checks[0].command.argv[0]: expected string, got boolean true (YAML reads true as a boolean: quote it, "true")');
  });

  it("refuses an empty argv", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    command:
      argv: []
`);
    expect(err.message).toBe("bad.yaml:5:13 checks[0].command.argv: argv needs at least the program name");
  });

  it("refuses destructive given as text", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    destructive: yes please
    command:
      argv: ["true"]
`);
    expect(err.message).toBe('bad.yaml:4:18 checks[0].destructive: expected boolean, got "yes please"');
  });

  it("refuses two kind blocks in one check", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    command:
      argv: ["true"]
    http:
      url: http://127.0.0.1/
`);
    expect(err.message).toBe("bad.yaml:3:5 checks[0]: a check has exactly one kind block, found command and http");
  });

  it("refuses a check with no kind block", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    hint: nothing to run
`);
    expect(err.message).toBe(`bad.yaml:3:5 checks[0]: a check needs one kind block: ${KINDS}`);
  });

  it("refuses an empty checks list", () => {
    const err = parseError(`suite: s
checks: []
`);
    expect(err.message).toBe("bad.yaml:2:9 checks: a suite needs at least one check");
  });

  it("refuses a suite without checks", () => {
    const err = parseError(`suite: s
description: nothing here
`);
    expect(err.message).toBe("bad.yaml:1:1 checks: required array is missing");
  });

  it("refuses a matcher with two operators", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    command:
      argv: ["true"]
      expect:
        exit: { gte: 0, lte: 2 }
`);
    expect(err.message).toBe(
      "bad.yaml:7:15 checks[0].command.expect.exit: a matcher takes exactly one of gte, lte, gt, lt, one_of",
    );
  });

  it("refuses an http method curl is not asked for", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    http:
      url: http://127.0.0.1/
      method: FETCH
`);
    expect(err.message).toBe('bad.yaml:6:15 checks[0].http.method: expected one of GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS, got "FETCH"');
  });

  it("reports a YAML syntax error at its line, not at the top of the file", () => {
    const err = parseError(`suite: s
checks:
  - id: a
   command:
      argv: ["true"]
`);
    expect(err.where).toEqual({ file: "bad.yaml", line: 4, col: 1 });
    expect(firstLine(err)).toBe("bad.yaml:4:1 yaml: Sequence item without - indicator");
  });

  it("reports an unclosed flow sequence as a YAML error", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    command:
      argv: ["true"
`);
    expect(firstLine(err)).toBe("bad.yaml:5:13 yaml: flow sequence opened with [ is not closed: end it with ] (on the same line, or indent the lines it continues on)");
  });

  it("reports every problem, not just the first", () => {
    const err = parseError(`suite: s
checks:
  - id: a
    timeout: soon
    command:
      argv: ["true"]
  - id: b
    command:
      argv: [false]
`);
    expect(err.message.split("\n")).toEqual([
      'bad.yaml:4:14 checks[0].timeout: expected a duration like 500ms, 30s, 5m, 1h, got "soon"',
      'bad.yaml:9:14 checks[1].command.argv[0]: expected string, got boolean false (YAML reads false as a boolean: quote it, "false")',
    ]);
  });
});
