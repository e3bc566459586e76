// An agent given several coordinators (issue 19): `--coordinator a:7400,b:7400`, the same in
// FLEETGATE_COORDINATOR, or agent.yaml's `coordinator:` as a string or a list; one address is read
// as before, and a bad entry is named with where it was given.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadAgentConfig, type AgentConfig } from "../../agent/cli/config.js";
import { parseCoordinatorList } from "../../shared/coordinator-list.js";
import { coordinatorAddresses, resolveAgentSettings, type RunFlags } from "../../agent/cli/settings.js";

const flags = (f: Partial<RunFlags> = {}): RunFlags => ({ label: {}, ...f });

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  return "no error";
}

describe("the coordinator list", () => {
  it("reads one address as a list of one, as before", () => {
    expect(parseCoordinatorList("coord.example.net:7400")).toEqual(["coord.example.net:7400"]);
    expect(coordinatorAddresses(resolveAgentSettings(flags(), {}, {}))).toEqual(["127.0.0.1:7400"]);
  });

  it("splits a comma-separated list in order, spaces around commas allowed, IPv6 in brackets", () => {
    expect(parseCoordinatorList("a.example.net:7400, b.example.net:7401,[fd7a::1]:7400")).toEqual(["a.example.net:7400", "b.example.net:7401", "[fd7a::1]:7400"]);
    expect(parseCoordinatorList(["10.0.0.1:7400", "10.0.0.2:7400"])).toEqual(["10.0.0.1:7400", "10.0.0.2:7400"]);
  });

  it("names the entry that is not host:port, is empty or is listed twice", () => {
    expect(refusal(() => parseCoordinatorList("a:7400,coord-b"))).toBe('entry 2 of 2, "coord-b" is not HOST:PORT with a port 1–65535, e.g. coord-a.example.net:7400,coord-b.example.net:7400 ([fd7a::1]:7400 for IPv6)');
    expect(refusal(() => parseCoordinatorList("coord:0"))).toMatch(/^"coord:0" is not HOST:PORT/);
    expect(refusal(() => parseCoordinatorList("a:7400,,b:7400"))).toMatch(/^entry 2 of 3, is empty; separate addresses with one comma/);
    expect(refusal(() => parseCoordinatorList("a:7400,"))).toMatch(/^entry 2 of 2, is empty/);
    expect(refusal(() => parseCoordinatorList("a:7400,b:7400,a:7400"))).toBe('entry 3 of 3, "a:7400" is listed twice; give each coordinator once');
    expect(refusal(() => parseCoordinatorList([]))).toMatch(/^no coordinator address; give at least one as HOST:PORT/);
  });

  it("says which flag, env variable or key gave the bad entry", () => {
    const at = (f: Partial<RunFlags>, env: NodeJS.ProcessEnv, c: AgentConfig) => refusal(() => coordinatorAddresses(resolveAgentSettings(flags(f), env, c)));
    expect(at({ coordinator: "a:7400,b" }, {}, {})).toMatch(/^--coordinator: entry 2 of 2, "b" is not HOST:PORT/);
    expect(at({}, { FLEETGATE_COORDINATOR: "a:7400;b:7400" }, {})).toMatch(/^FLEETGATE_COORDINATOR: "a:7400;b:7400" is not HOST:PORT/);
    // A file's list is checked at load time too (below, with its line); settings built by hand still name the key.
    expect(at({}, {}, { coordinator: ["a:7400", "a:7400"] })).toBe('coordinator in the config file: entry 2 of 2, "a:7400" is listed twice; give each coordinator once');
  });

  it("takes the flag's list over the env's and the file's, whole", () => {
    const s = resolveAgentSettings(flags({ coordinator: "f1:7400,f2:7400" }), { FLEETGATE_COORDINATOR: "e:7400" }, { coordinator: ["c1:7400", "c2:7400"] });
    expect([coordinatorAddresses(s), s.coordinator.via]).toEqual([["f1:7400", "f2:7400"], "--coordinator"]);
    const file = resolveAgentSettings(flags(), {}, { coordinator: ["c1:7400", "c2:7400"] });
    expect([coordinatorAddresses(file), file.coordinator.via]).toEqual([["c1:7400", "c2:7400"], "coordinator"]);
  });

  describe("in agent.yaml", () => {
    const dir = mkdtempSync(join(tmpdir(), "fleetgate-coordinators-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const load = (text: string) => {
      const file = join(dir, "agent.yaml");
      writeFileSync(file, text);
      return loadAgentConfig(file, true);
    };

    it("takes a YAML list, a comma-separated string or one address", () => {
      expect(load("coordinator:\n  - a.example.net:7400\n  - b.example.net:7400\n").coordinator).toEqual(["a.example.net:7400", "b.example.net:7400"]);
      expect(load("coordinator: a.example.net:7400,b.example.net:7400\n").coordinator).toBe("a.example.net:7400,b.example.net:7400");
      expect(load("coordinator: a.example.net:7400\n").coordinator).toBe("a.example.net:7400");
    });

    it("refuses a bad entry at load time, with the file and line", () => {
      const file = join(dir, "agent.yaml");
      expect(refusal(() => load("state_dir: /s\ncoordinator:\n  - a.example.net:7400\n  - b.example.net\n"))).toContain(`${file}:3:3`);
      expect(refusal(() => load("state_dir: /s\ncoordinator:\n  - a.example.net:7400\n  - b.example.net\n"))).toContain('entry 2 of 2, "b.example.net" is not HOST:PORT');
      expect(refusal(() => load("coordinator: []\n"))).toContain("no coordinator address");
      expect(refusal(() => load("coordinator: 7400\n"))).toContain(`${file}:1:14 coordinator: expected HOST:PORT, several as a:7400,b:7400, or a list of HOST:PORT, got 7400`);
    });
  });
});
