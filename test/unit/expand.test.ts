import { describe, expect, it } from "vitest";
import { FleetgateError } from "../../shared/errors.js";
import { expandVariables } from "../../shared/model/expand.js";

const scope = {
  vars: { unit: "lnd.service", port: "8080", unset: undefined },
  env: { HOME: "/root" },
  primary: { height: "812345" },
};

describe("expandVariables", () => {
  it("replaces ${vars.x}, ${env.X} and role captures inside nested strings", () => {
    const spec = {
      argv: ["systemctl", "is-active", "${vars.unit}"],
      env: { WHERE: "${env.HOME}/.lnd" },
      url: "http://127.0.0.1:${vars.port}/height/${primary.height}",
    };
    expect(expandVariables(spec, scope, "s.yaml: check a")).toEqual({
      argv: ["systemctl", "is-active", "lnd.service"],
      env: { WHERE: "/root/.lnd" },
      url: "http://127.0.0.1:8080/height/812345",
    });
  });

  it("returns a copy and leaves the input untouched", () => {
    const spec = { argv: ["echo", "${vars.unit}"] };
    const out = expandVariables(spec, scope, "w");
    expect(spec.argv[1]).toBe("${vars.unit}");
    expect(out).not.toBe(spec);
  });

  it("leaves numbers, booleans, null and text without references as they are", () => {
    const spec = { n: 3, b: false, z: null, s: "$HOME and ${HOME} and $vars.unit" };
    expect(expandVariables(spec, scope, "w")).toEqual(spec);
  });

  it("refuses an undefined ${vars.x}, naming where and the vars that are defined", () => {
    expect(() => expandVariables({ argv: ["${vars.missing}"] }, scope, "s.yaml: check a")).toThrow(
      new FleetgateError("bad_input", "s.yaml: check a: ${vars.missing} is undefined; define it under vars: (defined: unit, port)"),
    );
  });

  it("treats a var whose value is undefined as undefined", () => {
    expect(() => expandVariables("${vars.unset}", scope, "w")).toThrow("${vars.unset} is undefined");
  });

  it("refuses an undefined ${vars.x} when no vars exist without listing any", () => {
    expect(() => expandVariables("${vars.x}", { vars: {} }, "w")).toThrow(/^w: \$\{vars\.x\} is undefined; define it under vars:$/);
  });

  it("refuses an undefined ${env.X}, saying to set it in the agent's environment", () => {
    const err = (() => {
      try {
        expandVariables("${env.BITCOIN_RPC_USER}", scope, "s.yaml: precondition p");
      } catch (e) {
        return e as FleetgateError;
      }
    })();
    expect(err).toBeInstanceOf(FleetgateError);
    expect(err?.code).toBe("bad_input");
    expect(err?.message).toBe("s.yaml: precondition p: ${env.BITCOIN_RPC_USER} is undefined; set it in the agent's environment");
  });

  it("refuses a capture no step made, naming the role and value", () => {
    expect(() => expandVariables("${peer.invoice}", scope, "w")).toThrow("w: ${peer.invoice} is undefined; no step captured peer.invoice");
  });
});
