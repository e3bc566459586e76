import { describe, expect, it } from "vitest";
import { missingCaptureMessage, stepCaptures, type CaptureSource } from "../../coordinator/sequencer/captures.js";

const ROLES = ["origin", "peer"];

describe("values a cross step may use", () => {
  it("offers every earlier group's captures as role.name, a later capture of a name winning", () => {
    const earlier: CaptureSource[] = [
      { role: "origin", group: 0, captured: { doc_id: "d-1", rev: "1" } },
      { role: "origin", group: 1, captured: { rev: "2" } },
      { role: "peer", group: 1, captured: { addr: "10.0.0.2" } },
    ];
    expect(stepCaptures("argv: [fetch, '${origin.doc_id}']", 2, ROLES, earlier)).toEqual({
      captures: { "origin.doc_id": "d-1", "origin.rev": "2", "peer.addr": "10.0.0.2" },
      missing: [],
    });
  });

  it("never offers a capture of the step's own group or a later one: those have not run first", () => {
    const same = [{ role: "peer", group: 1, captured: { addr: "10.0.0.2" } }];
    expect(stepCaptures("url: http://${peer.addr}/", 1, ROLES, same)).toEqual({ captures: {}, missing: ["peer.addr"] });
  });

  it("names each role reference nobody captured once, and leaves vars and env to the agent", () => {
    const spec = "argv: ['${origin.doc_id}', '${origin.doc_id}', '${vars.port}', '${env.HOME}', '${peer.token}']";
    expect(stepCaptures(spec, 1, ROLES, []).missing).toEqual(["origin.doc_id", "peer.token"]);
  });

  it("says which value is missing and which role should have captured it", () => {
    expect(missingCaptureMessage(["origin.doc_id"])).toBe(
      "needs ${origin.doc_id}, which no earlier step on origin captured (add capture: to that step, or check that it passed)",
    );
  });
});
