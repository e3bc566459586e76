// `coord serve` settings follow the agent's order (issue 15, part 6): flag > env > file > default.
import { describe, expect, it } from "vitest";
import { DEFAULT_STATE_DIR, resolveServeSettings, serveNumbers, type ServeFlags } from "../../coordinator/cli/serve-config.js";

const flags = (f: Partial<ServeFlags> = {}): ServeFlags => ({ san: [], ...f });

describe("the coordinator's settings", () => {
  it("takes the state dir from --state-dir, else FLEETGATE_STATE_DIR, else coord.yaml, else the default", () => {
    const file = { state_dir: "/file" };
    const env = { FLEETGATE_STATE_DIR: "/env" };
    expect(resolveServeSettings(flags({ stateDir: "/flag" }), env, file).stateDir).toEqual({ value: "/flag", from: "flag", via: "--state-dir" });
    expect(resolveServeSettings(flags(), env, file).stateDir).toEqual({ value: "/env", from: "env", via: "FLEETGATE_STATE_DIR" });
    expect(resolveServeSettings(flags(), { FLEETGATE_STATE_DIR: "" }, file).stateDir).toEqual({ value: "/file", from: "file", via: "state_dir" });
    expect(resolveServeSettings(flags(), {}, {}).stateDir).toEqual({ value: DEFAULT_STATE_DIR, from: "default", via: "" });
  });

  it("takes the rest from the flag, else coord.yaml, else the defaults serve has always used, and adds --san to the file's", () => {
    const s = resolveServeSettings(flags({ heartbeat: "2s", san: ["b.example"] }), {}, { heartbeat: "9s", lost_after: "40s", san: ["a.example"], min_free: "1GiB" });
    expect([s.heartbeat.from, s.lostAfter.from, s.minFree.from, s.nodeCertTtl.from, s.listen.from]).toEqual(["flag", "file", "file", "default", "default"]);
    expect(s.sans).toEqual(["a.example", "b.example"]);
    expect(serveNumbers(s)).toEqual({ heartbeatIntervalMs: 2000, lostAfterMs: 40_000, minFreeBytes: 1024 ** 3, nodeCertTtlMs: 7 * 86_400_000 });
    expect(serveNumbers(resolveServeSettings(flags(), {}, {}))).toEqual({ heartbeatIntervalMs: 5000, lostAfterMs: 25_000, minFreeBytes: 256 * 1024 ** 2, nodeCertTtlMs: 7 * 86_400_000 });
  });
});
