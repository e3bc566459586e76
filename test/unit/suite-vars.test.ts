import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { redactResult, redactText, secretList } from "../../shared/model/redact.js";
import { parseSuite } from "../../shared/model/suite.js";
import { checkRunVars, parseVarFlag, parseVarsFile, runVars, withVars } from "../../shared/model/suite-vars.js";

describe("redaction", () => {
  it("hides a secret containing another whole, and leaves values too short to be secrets", () => {
    const secrets = secretList(["abcd", "abcdef-long", "1", ""]);
    expect(secrets).toEqual(["abcdef-long", "abcd"]);
    expect(redactText("x=abcdef-long y=abcd z=1", secrets)).toBe("x=*** y=*** z=1");
  });

  it("redacts every text of a result: summary, reason, hint, tails, cases, attempts, captures", () => {
    const r = create(CheckResultSchema, {
      summary: "saw pw-1234",
      reason: "pw-1234",
      hint: "pw-1234",
      stdoutTail: "pw-1234\n",
      stderrTail: "pw-1234",
      cases: [{ name: "t pw-1234", message: "m pw-1234" }],
      attemptLog: [{ summary: "a pw-1234" }],
      captured: { token: "pw-1234" },
    });
    redactResult(r, ["pw-1234"]);
    expect(JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain("pw-1234");
    expect(r.summary).toBe("saw ***");
  });
});

describe("suite vars", () => {
  const suite = () => parseSuite(`suite: s\nvars:\n  host: a\n  token: { secret: true }\n  pw: { value: hunter22, secret: true }\nchecks:\n  - id: c\n    command: { argv: [echo, "\${vars.host}", "\${vars.token}", "\${vars.pw}"] }\n`, "s.yaml");

  it("reads plain and secret vars; a secret declared without a value has none until given", () => {
    const s = suite();
    expect(s.vars).toEqual({ host: "a", pw: "hunter22" });
    expect(s.secretVars).toEqual(["token", "pw"]);
  });

  it("takes --var over --vars-file, NAME:secret=VALUE marking it secret", () => {
    const flags = parseVarFlag("token:secret=t0k3n", parseVarFlag("host=b"));
    const v = runVars(flags, { text: "host: from-file\nport: 80\n", file: "vars.yaml" });
    expect(v).toEqual({ vars: { host: "b", port: "80", token: "t0k3n" }, secretVars: ["token"] });
    expect(withVars(suite(), { vars: { host: "b" }, secretVars: [] }, true).vars.host).toBe("b");
  });

  it("refuses a malformed --var, a bad vars file at its line, and a var the suite does not declare", () => {
    expect(() => parseVarFlag("=x")).toThrow('--var "=x": expected NAME=VALUE (or NAME:secret=VALUE), e.g. --var host=10.0.0.5');
    expect(() => parseVarsFile("host: [1, 2]\n", "vars.yaml")).toThrow(/^vars\.yaml:1:7 host: /);
    expect(() => withVars(suite(), { vars: { hots: "b" }, secretVars: [] }, true)).toThrow('--var hots: suite s.yaml declares no var "hots"; vars: host, pw, token');
  });

  it("refuses on the coordinator a run var no suite declares, or one a suite declares secret", () => {
    const suites = { "s.yaml": suite() };
    expect(() => checkRunVars({ host: "b" }, suites)).not.toThrow();
    expect(() => checkRunVars({ hots: "b" }, suites)).toThrow('--var hots: no suite of the plan declares a var "hots"; vars: host, pw, token');
    expect(() => checkRunVars({ token: "b" }, suites)).toThrow("--var token: suite s.yaml declares it secret");
  });
});
