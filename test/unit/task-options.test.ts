import { describe, expect, it } from "vitest";
import { captureScope, checkSelector } from "../../agent/daemon/task-options.js";
import { expandVariables } from "../../shared/model/expand.js";
import type { ResolvedCheck } from "../../shared/model/suite.js";

describe("what a task asks of the suite run", () => {
  it("turns captures sent as role.name into the scope ${role.name} expands from, keeping dots in names", () => {
    const scope = captureScope({ "origin.doc_id": "d-1", "peer.addr.v4": "10.0.0.2" });
    expect(scope).toEqual({ origin: { doc_id: "d-1" }, peer: { "addr.v4": "10.0.0.2" } });
    expect(expandVariables(["fetch", "${origin.doc_id}", "${peer.addr.v4}"], scope, "step")).toEqual(["fetch", "d-1", "10.0.0.2"]);
  });

  it("fails a step that names a capture nobody sent, saying which", () => {
    expect(() => expandVariables("${origin.doc_id}", captureScope({}), "plan.yaml#federation/fetch")).toThrow(
      "plan.yaml#federation/fetch: ${origin.doc_id} is undefined; no step captured origin.doc_id",
    );
  });

  it("selects only checks carrying a quick tag, and everything when no tag is asked for", () => {
    const check = (tags: string[]) => ({ tags }) as unknown as ResolvedCheck;
    const quick = checkSelector(["quick"]);
    expect(quick?.(check(["quick", "net"]))).toBe(true);
    expect(quick?.(check(["slow"]))).toBe(false);
    expect(checkSelector([])).toBeUndefined();
  });

  it("selects by --only check id, and by id and tag when both are asked for", () => {
    const check = (id: string, tags: string[] = []) => ({ id, tags }) as unknown as ResolvedCheck;
    const only = checkSelector([], ["api"]);
    expect(only?.(check("api"))).toBe(true);
    expect(only?.(check("db"))).toBe(false);
    const both = checkSelector(["quick"], ["api"]);
    expect(both?.(check("api", ["quick"]))).toBe(true);
    expect(both?.(check("api", ["slow"]))).toBe(false);
    expect(both?.(check("db", ["quick"]))).toBe(false);
  });
});
