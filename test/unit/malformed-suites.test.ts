// A corpus of malformed suites and plans (test/fixtures/malformed/, one mistake each, the kind
// people make under release pressure), each refused with exactly this message: file:line:col,
// the field's path, what was expected and what was seen. And the published JSON Schema
// (`fleetgate-agent schema suite|plan`), which editors validate with, refuses every one it can
// express; the rest are rules only the parser knows (cross-field, references, compiled regexes).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { jsonSchemaFor } from "../../shared/model/json-schema.js";
import { parsePlan } from "../../shared/model/plan.js";
import { parseSuite } from "../../shared/model/suite.js";
import { jsonSchemaAccepts } from "../support/json-schema-check.js";
import { refusal } from "../support/refusal.js";

const DIR = fileURLToPath(new URL("../fixtures/malformed/", import.meta.url));

type SchemaVerdict = "rejects" | "parser only" | "not YAML";

// [file, the mistake, the message after "FILE:", what the JSON Schema says]
const CASES: [string, string, string, SchemaVerdict][] = [
  ["01-an-http-status-written-as-a-word.suite.yaml", "an http status written as a word", "4:53 checks[0].http.status: expected an HTTP status 100–599, or a matcher over it: { gte: 200, lt: 300 }, { one_of: [200, 204] }, got \"ok\"", "rejects"],
  ["02-an-http-status-written-as-a-list.suite.yaml", "an http status written as a list", "4:53 checks[0].http.status: expected an HTTP status 100–599, or a matcher over it: { gte: 200, lt: 300 }, { one_of: [200, 204] }, got [1,2]", "rejects"],
  ["03-an-http-status-below-100.suite.yaml", "an http status below 100", "6:15 checks[0].http.status: expected an HTTP status 100–599, or a matcher over it: { gte: 200, lt: 300 }, { one_of: [200, 204] }, got 99", "rejects"],
  ["04-an-http-status-matcher-bound-above-599.suite.yaml", "an http status matcher bound above 599", "6:22 checks[0].http.status.gte: expected an HTTP status 100–599, or a matcher over it: { gte: 200, lt: 300 }, { one_of: [200, 204] }, got 700", "rejects"],
  ["05-an-http-status-matcher-with-a-text-operator.suite.yaml", "an http status matcher with a text operator", "6:17 checks[0].http.status.matches: unknown key \"matches\" (valid: gte, lte, gt, lt, one_of)", "rejects"],
  ["06-retry-every-longer-than-its-window.suite.yaml", "retry every longer than its window", "4:30 checks[0].retry.every: every: 30s is longer than for: 5s, so it would never try again; make every at most 5s", "parser only"],
  ["07-a-zero-timeout.suite.yaml", "a zero timeout", "4:14 checks[0].timeout: must be more than 0 (0 would end before anything ran)", "parser only"],
  ["08-a-timeout-without-a-unit.suite.yaml", "a timeout without a unit", "4:14 checks[0].timeout: expected a duration like 500ms, 30s, 5m, 1h, got 30, a number without a unit: did you mean 30s?", "rejects"],
  ["09-a-destructive-precondition.suite.yaml", "a destructive precondition", "4:18 preconditions[0].destructive: a precondition only observes and cannot be destructive: true; move this check under checks:", "rejects"],
  ["10-then-on-a-precondition.suite.yaml", "then: on a precondition", "6:7 preconditions[0].then: then: follows a check that changed something; a precondition only observes, so move this check under checks:", "rejects"],
  ["11-two-kinds-in-one-check.suite.yaml", "two kinds in one check", "3:5 checks[0]: a check has exactly one kind block, found command and tcp", "rejects"],
  ["12-a-check-with-no-kind.suite.yaml", "a check with no kind", "3:5 checks[0]: a check needs one kind block: command, http, systemd, quadlet, bats, tcp, file, disk, memory, load, bitcoin, nginx, podman", "rejects"],
  ["13-an-id-used-by-a-precondition-and-a-check.suite.yaml", "an id used by a precondition and a check", "6:9 checks[0].id: duplicate id \"up\", first used at preconditions[0]", "parser only"],
  ["14-an-unquoted-true-in-argv.suite.yaml", "an unquoted true in argv", "4:23 checks[0].command.argv[0]: expected string, got boolean true (YAML reads true as a boolean: quote it, \"true\")", "rejects"],
  ["15-an-unquoted-number-in-argv.suite.yaml", "an unquoted number in argv", "5:21 checks[0].command.argv[1]: expected string, got number 5 (YAML reads 5 as a number: quote it, \"5\")", "rejects"],
  ["16-an-unknown-matcher-operator.suite.yaml", "an unknown matcher operator", "7:19 checks[0].command.expect.stdout.greater: unknown key \"greater\" (valid: gte, lte, gt, lt, matches, contains, one_of); did you mean gt?", "rejects"],
  ["17-an-unclosed-flow-mapping.suite.yaml", "an unclosed flow mapping", "4:14 yaml: flow mapping opened with { is not closed: end it with } (on the same line, or indent the lines it continues on)", "not YAML"],
  ["18-an-unclosed-flow-sequence.suite.yaml", "an unclosed flow sequence", "5:13 yaml: flow sequence opened with [ is not closed: end it with ] (on the same line, or indent the lines it continues on)", "not YAML"],
  ["19-an-undefined-vars-x.suite.yaml", "an undefined ${vars.X}", "8:21 checks[0].command.argv[1]: ${vars.hots} is not defined (vars: host, port; did you mean host?)", "parser only"],
  ["20-an-undefined-vars-x-in-a-then-follow-up.suite.yaml", "an undefined ${vars.X} in a then: follow-up", "8:25 checks[0].then.systemd.unit: ${vars.unti} is not defined (vars: unit; did you mean unit?)", "parser only"],
  ["21-a-matcher-regex-that-does-not-compile.suite.yaml", "a matcher regex that does not compile", "7:28 checks[0].command.expect.stdout.matches: not a valid regular expression: /v(0\\.18/m: Unterminated group", "parser only"],
  ["22-a-file-regex-that-does-not-compile.suite.yaml", "a file regex that does not compile", "4:43 checks[0].file.matches: not a valid regular expression: /[a-/m: Unterminated character class", "parser only"],
  ["23-a-capture-regex-that-does-not-compile.suite.yaml", "a capture regex that does not compile", "6:24 checks[0].capture.height.regex: not a valid regular expression: /(\\d+/m: Unterminated group", "parser only"],
  ["24-a-file-mode-yaml-reads-as-a-number.suite.yaml", "a file mode YAML reads as a number", "4:43 checks[0].file.mode: write mode as a quoted octal string, like \"0600\", got number 600 (YAML reads 0600 as a number: quote it, \"0600\")", "rejects"],
  ["25-a-file-mode-that-is-not-octal.suite.yaml", "a file mode that is not octal", "4:43 checks[0].file.mode: expected an octal mode like \"0600\" or \"644\", got \"0900\"", "rejects"],
  ["26-a-tcp-port-out-of-range.suite.yaml", "a tcp port out of range", "4:21 checks[0].tcp.address: expected host:port with a port 1–65535, like \"127.0.0.1:50001\" or \"[::1]:50001\", got \"127.0.0.1:70000\"", "parser only"],
  ["27-a-tcp-address-without-a-port.suite.yaml", "a tcp address without a port", "4:21 checks[0].tcp.address: expected host:port with a port 1–65535, like \"127.0.0.1:50001\" or \"[::1]:50001\", got \"127.0.0.1\"", "parser only"],
  ["28-a-size-with-an-unknown-unit.suite.yaml", "a size with an unknown unit", "4:35 checks[0].disk.free.gte: expected a size like 10GiB, 500MiB, 1.5TB or a number of bytes, got \"10 gigs\"", "rejects"],
  ["29-a-negative-size.suite.yaml", "a negative size", "4:33 checks[0].memory.available.gte: expected a number >= 0, got -1", "rejects"],
  ["30-a-memory-limit-too-small-to-start-a-program.suite.yaml", "a memory limit too small to start a program", "4:23 checks[0].limits.memory: a memory limit below 16 MiB leaves no program room to start; give at least 16MiB, or 0 for no limit", "parser only"],
  ["31-a-misspelt-check-field.suite.yaml", "a misspelt check field", "4:5 checks[0].timout: unknown check kind or field \"timout\"; kinds: command, http, systemd, quadlet, bats, tcp, file, disk, memory, load, bitcoin, nginx, podman; fields: id, timeout, retry, limits, user, destructive, tags, hint, capture, serial, then; did you mean timeout?", "rejects"],
  ["32-a-misspelt-check-kind.suite.yaml", "a misspelt check kind", "4:5 checks[0].sytemd: unknown check kind or field \"sytemd\"; kinds: command, http, systemd, quadlet, bats, tcp, file, disk, memory, load, bitcoin, nginx, podman; fields: id, timeout, retry, limits, user, destructive, tags, hint, capture, serial, then; did you mean systemd?", "rejects"],
  ["33-an-http-method-in-lower-case.suite.yaml", "an http method in lower case", "4:47 checks[0].http.method: expected one of GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS, got \"get\"; did you mean GET?", "rejects"],
  ["34-a-misspelt-systemd-scope.suite.yaml", "a misspelt systemd scope", "4:42 checks[0].systemd.scope: expected one of system|user, got \"usr\"; did you mean user?", "rejects"],
  ["35-a-misspelt-podman-state.suite.yaml", "a misspelt podman state", "4:38 checks[0].podman.state: expected one of running|exited|created|paused|stopped|stopping|initialized|configured|removing, got \"runing\"; did you mean running?", "rejects"],
  ["36-an-id-with-a-space.suite.yaml", "an id with a space", "3:9 checks[0].id: ids use letters, digits, '.', '_' and '-', got \"lnd up\"", "rejects"],
  ["37-a-suite-without-its-name.suite.yaml", "a suite without its name", "1:1 suite: required string is missing", "rejects"],
  ["38-a-suite-with-an-empty-checks-list.suite.yaml", "a suite with an empty checks list", "2:9 checks: a suite needs at least one check", "rejects"],
  ["39-a-hint-yaml-reads-as-a-number.suite.yaml", "a hint YAML reads as a number", "4:11 checks[0].hint: expected string, got number 42 (YAML reads 42 as a number: quote it, \"42\")", "rejects"],
  ["40-a-misspelt-http-field.suite.yaml", "a misspelt http field", "6:7 checks[0].http.stauts: unknown key \"stauts\" (valid: url, method, headers, body_send, status, body, json, insecure); did you mean status?", "rejects"],
  ["41-a-boolean-field-written-as-a-word-yaml-keeps-as-text.suite.yaml", "a boolean field written as a word YAML keeps as text", "4:41 checks[0].file.exists: expected boolean, got \"no\" (write true or false, unquoted)", "rejects"],
  ["42-a-quadlet-orphans-value-other-than-none.suite.yaml", "a quadlet orphans value other than none", "4:38 checks[0].quadlet.orphans: expected one of none, got \"some\"", "rejects"],
  ["43-a-key-written-twice.suite.yaml", "a key written twice", "5:5 yaml: Map keys must be unique", "not YAML"],
  ["44-a-bitcoin-rpc-that-reads-as-an-option.suite.yaml", "a bitcoin RPC that reads as an option", "4:21 checks[0].bitcoin.rpc: an RPC method name, e.g. getblockchaininfo, got \"-getinfo\"", "rejects"],
  ["45-an-nginx-check-without-proxy-pass.suite.yaml", "an nginx check without proxy_pass", "4:12 checks[0].nginx.proxy_pass: required value is missing", "rejects"],
  ["46-a-retry-with-a-zero-window.suite.yaml", "a retry with a zero window", "4:19 checks[0].retry.for: must be more than 0 (0 would end before anything ran)", "parser only"],
  ["47-a-misspelt-stage-kind.plan.yaml", "a misspelt stage kind", "4:11 stages[0].kind: expected one of single|fleet|cross|matrix, got \"singel\"; did you mean single?", "rejects"],
  ["48-a-stage-id-used-twice.plan.yaml", "a stage id used twice", "6:9 stages[1].id: duplicate stage id \"node\"", "parser only"],
  ["49-node-on-a-fleet-stage.plan.yaml", "node: on a fleet stage", "6:5 stages[0].node: unknown key \"node\" (valid: id, kind, description, suite, nodes, iterations, allow_destructive, parallel, not_ready); did you mean nodes?", "rejects"],
  ["50-a-capture-used-before-any-step-captures-it.plan.yaml", "a capture used before any step captures it", "9:35 stages[0].steps[0].command.argv[1]: ${origin.doc_id} is not captured by an earlier step (no earlier step on origin captures anything); add capture: { doc_id: … } to a step on origin before this one", "parser only"],
  ["51-a-capture-used-by-a-step-of-the-same-parallel-group.plan.yaml", "a capture used by a step of the same parallel group", "14:39 stages[0].steps[0].parallel[1].command.argv[1]: ${origin.doc_id} is not captured by an earlier step (no earlier step on origin captures anything); add capture: { doc_id: … } to a step on origin before this one", "parser only"],
  ["52-a-step-on-a-role-the-stage-does-not-declare.plan.yaml", "a step on a role the stage does not declare", "8:13 stages[0].steps[0].on: no role \"peer\" under roles: (declared: origin)", "parser only"],
  ["53-zero-iterations.plan.yaml", "zero iterations", "6:17 stages[0].iterations: iterations must be at least 1", "rejects"],
  ["54-quick-naming-a-stage-the-plan-lacks.plan.yaml", "quick: naming a stage the plan lacks", "2:19 quick.stages[0]: no stage \"nodes\" (stages: node)", "parser only"],
  ["55-a-fault-step-without-faults-true.plan.yaml", "a fault step without faults: true", "7:16 stages[0].steps[0].fault: fault steps cut links and kill agents: allowed only with faults: true at the top of the plan, on a test network", "parser only"],
  ["56-a-leg-requiring-a-probe-that-does-not-exist.plan.yaml", "a leg requiring a probe that does not exist", "10:20 stages[0].legs[0].requires[0]: no probe \"kmv\" under probes:", "parser only"],
  ["57-a-cross-step-whose-retry-every-is-longer-than-its-window.plan.yaml", "a cross step whose retry every is longer than its window", "9:35 stages[0].steps[0].retry.every: every: 1m is longer than for: 10s, so it would never try again; make every at most 10s", "parser only"],
  ["58-an-http-status-word-in-a-cross-step.plan.yaml", "an http status word in a cross step", "9:51 stages[0].steps[0].http.status: expected an HTTP status 100–599, or a matcher over it: { gte: 200, lt: 300 }, { one_of: [200, 204] }, got \"ok\"", "rejects"],
  ["59-a-misspelt-top-level-key-that-hides-the-one-it-meant.plan.yaml", "a misspelt top-level key that hides the one it meant", "2:1 stage: unknown key \"stage\" (valid: plan, description, evidence, quick, faults, stages); did you mean stages?", "rejects"],
  ["60-var-x-written-for-vars-x.suite.yaml", "${var.X} written for ${vars.X}", "5:35 checks[0].command.argv[2]: ${var.host}: a suite's references are ${vars.NAME} and ${env.NAME}; did you mean ${vars.host}?", "parser only"],
  ["61-a-vars-reference-in-a-cross-step.plan.yaml", "a ${vars.X} in a cross step, where a plan has no vars", "9:39 stages[0].steps[0].command.argv[2]: ${vars.host}: a plan declares no vars; use the value, ${env.NAME} on the node, or a check in a suite that declares it", "parser only"],
  ["62-a-vars-reference-in-a-matrix-probe.plan.yaml", "a ${vars.X} in a matrix probe", "7:24 stages[0].probes.kvm.file.path: ${vars.kvm_device}: a plan declares no vars; use the value, ${env.NAME} on the node, or a check in a suite that declares it", "parser only"],
  ["63-a-boolean-written-as-yes.suite.yaml", "a boolean written as yes", "4:18 checks[0].destructive: expected boolean, got \"yes\" (YAML 1.2 reads yes as text: write true or false)", "rejects"],
  // Every unknown key of one block on its own line, at its own position.
  ["64-two-misspelt-keys-in-one-block.suite.yaml", "two misspelt keys in one block", "6:7 checks[0].http.methd: unknown key \"methd\" (valid: url, method, headers, body_send, status, body, json, insecure); did you mean method?\n64-two-misspelt-keys-in-one-block.suite.yaml:7:7 checks[0].http.hedaers: unknown key \"hedaers\" (valid: url, method, headers, body_send, status, body, json, insecure); did you mean headers?", "rejects"],
  ["65-an-unclosed-quote.suite.yaml", "an unclosed quote", "4:23 yaml: a string opened with \" is not closed: end it with \"", "not YAML"],
  ["66-a-tab-as-indentation.suite.yaml", "a tab as indentation", "4:1 yaml: tabs are not allowed as indentation: indent with spaces", "not YAML"],
  ["67-two-keys-on-one-line.suite.yaml", "two keys on one line", "4:14 yaml: a second key: on one line (like command: argv: [x]); put the inner mapping on its own indented line, or quote a value that holds \": \"", "not YAML"],
  ["68-a-key-with-no-value.suite.yaml", "a key with no value", "4:10 checks[0].hint: expected string, got nothing (the key has no value; write \"\" for an empty string)", "rejects"],
  ["69-an-exit-status-written-as-text.suite.yaml", "an exit status written as text", "6:23 checks[0].command.expect.exit: expected an exit status 0–255, or a matcher over it: { one_of: [0, 1] }, { lte: 2 }, got \"0\"", "rejects"],
  ["70-a-restart-count-written-as-a-word.suite.yaml", "a restart count written as a word", "4:45 checks[0].systemd.restarts: expected a restart count, or a matcher over it: { lte: 3 }, got \"few\"", "rejects"],
  ["71-a-user-name-with-a-space.suite.yaml", "a user name with a space", "4:11 checks[0].user: expected a user name like nobody or alice, or a numeric uid like 1000, got \"podman user\"", "rejects"],
  ["72-user-on-a-check-that-runs-no-program.suite.yaml", "user: on a check that runs no program", "5:11 checks[0].user: a file check runs no program (the agent observes it itself), so user: does not apply to it; remove user:, or check it with a command: run as that user (user: applies to command, http, systemd, quadlet, bats, bitcoin, nginx, podman)", "parser only"],
  ["73-a-concurrency-of-zero.suite.yaml", "a concurrency of zero", "2:14 concurrency: expected 1 to 64 (1 runs the checks one after the other)", "rejects"],
  ["74-a-concurrency-written-as-a-word.suite.yaml", "a concurrency written as a word", "2:14 concurrency: expected a whole number of checks, like 4, got \"four\"", "rejects"],
];

const read = (file: string) => readFileSync(`${DIR}${file}`, "utf8");
const isPlan = (file: string) => file.endsWith(".plan.yaml");

describe("a malformed suite or plan is refused with one exact, located message", () => {
  it.each(CASES)("%s (%s)", (file, _mistake, message) => {
    const err = refusal(() => (isPlan(file) ? parsePlan(read(file), file) : parseSuite(read(file), file)));
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe(`${file}:${message}`);
    const [line, col] = message.split(" ")[0]?.split(":").map(Number) ?? [];
    expect(err.where).toEqual({ file, line, col });
  });

  it("covers at least 40 distinct mistakes", () => {
    expect(new Set(CASES.map(([, mistake]) => mistake)).size).toBeGreaterThanOrEqual(40);
    expect(new Set(CASES.map(([, , message]) => message)).size).toBe(CASES.length);
  });
});

describe("the JSON Schema refuses the malformed files it can express", () => {
  it.each(CASES.filter(([, , , schema]) => schema !== "not YAML"))("%s (%s)", (file, _mistake, _message, schema) => {
    const accepted = jsonSchemaAccepts(jsonSchemaFor(isPlan(file) ? "plan" : "suite"), parse(read(file)));
    // "parser only": a rule JSON Schema cannot say (every ≤ for, ids unique, a ${vars.X} defined…);
    // when the schema learns one, this fails and the case moves to "rejects".
    expect(accepted ? "parser only" : "rejects").toBe(schema);
  });

  it("accepts the shipped example suites and plan, so its refusals are not refusing everything", () => {
    const examples = fileURLToPath(new URL("../examples/", import.meta.url));
    expect(jsonSchemaAccepts(jsonSchemaFor("plan"), parse(readFileSync(`${examples}release-gate.plan.yaml`, "utf8")))).toBe(true);
    expect(jsonSchemaAccepts(jsonSchemaFor("suite"), parse(readFileSync(`${examples}archy-node.suite.yaml`, "utf8")))).toBe(true);
  });
});
