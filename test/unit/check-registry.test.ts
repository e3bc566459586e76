import { describe, expect, it } from "vitest";
import { allCheckKinds, checkKind } from "../../agent/checks/registry.js";
import { KIND_NAMES, KIND_SCHEMAS } from "../../shared/model/kinds/index.js";

describe("check kinds loaded on first use", () => {
  it.each(KIND_NAMES)("%s loads, names itself and has the schema suites are parsed with", async (name) => {
    const kind = await checkKind(name);
    expect(kind.kind).toBe(name);
    expect(kind.schema).toBe(KIND_SCHEMAS[name]);
    expect(typeof kind.observe).toBe("function");
    expect(typeof kind.evaluate).toBe("function");
  });

  it("gives the same object on every call, so a kind is loaded once", async () => {
    const [a, b] = await Promise.all([checkKind("command"), checkKind("command")]);
    expect(a).toBe(b);
    expect((await allCheckKinds()).command).toBe(a);
  });

  it("has a loader for every kind a suite can name and none other", async () => {
    expect(Object.keys(await allCheckKinds()).sort()).toEqual([...KIND_NAMES].sort());
  });
});
