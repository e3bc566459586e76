// One order for every `fleetgate-agent run` setting (issue 15, part 6): flag > env > file > default,
// as `run` uses them and `config check` shows them.
import { describe, expect, it } from "vitest";
import { DEFAULT_COORDINATOR, DEFAULT_STATE_DIR, noTokenMessage, resolveAgentSettings, runLimits, type RunFlags } from "../../agent/cli/settings.js";
import type { AgentConfig } from "../../agent/cli/config.js";
import { FleetgateError } from "../../shared/errors.js";
import { pickSetting } from "../../shared/settings.js";
import { defaultConcurrency } from "../../agent/engine/concurrency.js";

const flags = (f: Partial<RunFlags> = {}): RunFlags => ({ label: {}, ...f });
const FILE: AgentConfig = { coordinator: "file:7400", token: "fge_file", ca: "/file/ca.crt", state_dir: "/file/state", stop_grace: "10s", insecure: true, labels: { role: "fleet", site: "lab" } };
const ENV = { FLEETGATE_COORDINATOR: "env:7400", FLEETGATE_TOKEN: "fge_env", FLEETGATE_CA: "/env/ca.crt", FLEETGATE_AGENT_STATE_DIR: "/env/state" };

describe("the agent's settings", () => {
  it("takes each setting that has an env variable from the flag, else the env, else the file, else the default", () => {
    const all = resolveAgentSettings(flags({ coordinator: "flag:7400", token: "fge_flag", ca: "/flag/ca.crt", stateDir: "/flag/state" }), ENV, FILE);
    expect([all.coordinator, all.token, all.ca, all.stateDir].map((s) => [s.value, s.from, s.via])).toEqual([
      ["flag:7400", "flag", "--coordinator"],
      ["fge_flag", "flag", "--token"],
      ["/flag/ca.crt", "flag", "--ca"],
      ["/flag/state", "flag", "--state-dir"],
    ]);
    const env = resolveAgentSettings(flags(), ENV, FILE);
    expect([env.coordinator, env.token, env.ca, env.stateDir].map((s) => [s.value, s.from, s.via])).toEqual([
      ["env:7400", "env", "FLEETGATE_COORDINATOR"],
      ["fge_env", "env", "FLEETGATE_TOKEN"],
      ["/env/ca.crt", "env", "FLEETGATE_CA"],
      ["/env/state", "env", "FLEETGATE_AGENT_STATE_DIR"],
    ]);
    const file = resolveAgentSettings(flags(), {}, FILE);
    expect([file.coordinator, file.token, file.ca, file.stateDir].map((s) => [s.value, s.from, s.via])).toEqual([
      ["file:7400", "file", "coordinator"],
      ["fge_file", "file", "token"],
      ["/file/ca.crt", "file", "ca"],
      ["/file/state", "file", "state_dir"],
    ]);
    const none = resolveAgentSettings(flags(), {}, {});
    expect([none.coordinator, none.token, none.ca, none.stateDir].map((s) => [s.value, s.from])).toEqual([
      [DEFAULT_COORDINATOR, "default"],
      [undefined, "default"],
      [undefined, "default"],
      [DEFAULT_STATE_DIR, "default"],
    ]);
  });

  it("reads an empty env variable as unset, as a unit's Environment=X= means it", () => {
    expect(resolveAgentSettings(flags(), { FLEETGATE_COORDINATOR: "" }, FILE).coordinator).toEqual({ value: "file:7400", from: "file", via: "coordinator" });
  });

  it("takes the settings without an env variable from the flag, else the file, else the default", () => {
    const s = resolveAgentSettings(flags({ insecure: false, spoolMax: "2GiB" }), {}, FILE);
    expect(s.insecure).toEqual({ value: false, from: "flag", via: "--insecure" });
    expect(s.stopGrace).toEqual({ value: "10s", from: "file", via: "stop_grace" });
    expect(s.spoolMax).toEqual({ value: "2GiB", from: "flag", via: "--spool-max" });
    expect(s.maxMemory.from).toBe("default");
  });

  it("lays --label over the file's labels key by key", () => {
    const s = resolveAgentSettings(flags({ label: { site: "dc2", rack: "r1" } }), {}, FILE);
    expect(s.labels).toEqual({ value: { role: "fleet", site: "dc2", rack: "r1" }, from: { role: "file", site: "flag", rack: "flag" } });
  });

  it("names the flag, or the file's key, of a value run cannot use", () => {
    const bad = (f: Partial<RunFlags>, c: AgentConfig) => {
      try {
        runLimits(resolveAgentSettings(flags(f), {}, c));
      } catch (err) {
        return (err as FleetgateError).message;
      }
      return "no error";
    };
    expect(bad({ spoolMax: "1KiB" }, {})).toMatch(/^--spool-max: 1 KiB is too small to hold a task's results/);
    expect(bad({}, { spool_max: "1KiB" })).toMatch(/^spool_max in the config file: 1 KiB is too small/);
    expect(bad({}, { max_memory: "1MiB" })).toMatch(/^max_memory in the config file: 1 MiB is less than the agent needs to start/);
    expect(bad({ stopGrace: "5" }, {})).toMatch(/^--stop-grace: .*did you mean 5s\?/);
    expect(runLimits(resolveAgentSettings(flags(), {}, { stop_grace: "2s" })).stopGraceMs).toBe(2000);
  });

  it("takes the checks-at-once bound from --concurrency, else FLEETGATE_AGENT_CONCURRENCY, else concurrency:, else twice the cores (at most 8)", () => {
    const at = (f: Partial<RunFlags>, env: NodeJS.ProcessEnv, c: AgentConfig) => {
      const s = resolveAgentSettings(flags(f), env, c);
      return [runLimits(s).concurrency, s.concurrency.from, s.concurrency.via];
    };
    expect(at({ concurrency: "3" }, { FLEETGATE_AGENT_CONCURRENCY: "5" }, { concurrency: 7 })).toEqual([3, "flag", "--concurrency"]);
    expect(at({}, { FLEETGATE_AGENT_CONCURRENCY: "5" }, { concurrency: 7 })).toEqual([5, "env", "FLEETGATE_AGENT_CONCURRENCY"]);
    expect(at({}, {}, { concurrency: 7 })).toEqual([7, "file", "concurrency"]);
    expect(at({}, {}, {})).toEqual([defaultConcurrency(), "default", ""]);
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as FleetgateError).message;
      }
      return "no error";
    };
    expect(refusal(() => at({}, { FLEETGATE_AGENT_CONCURRENCY: "lots" }, {}))).toBe('FLEETGATE_AGENT_CONCURRENCY: expected a whole number of checks from 1 to 64 (1 runs them one after the other), got "lots"');
    expect(refusal(() => at({}, {}, { concurrency: 100 }))).toBe("concurrency in the config file: expected a whole number of checks from 1 to 64 (1 runs them one after the other), got 100");
  });

  it("says which token_file to fill when there is no token", () => {
    const s = resolveAgentSettings(flags(), {}, { token_file: "/etc/fleetgate/enroll.token", state_dir: "/s" });
    expect(s.tokenFile).toEqual({ value: "/etc/fleetgate/enroll.token", from: "file", via: "token_file" });
    expect(noTokenMessage(s)).toBe("no token: /etc/fleetgate/enroll.token (token_file) is missing or empty and /s holds no node token; put a token from `coord token create` in /etc/fleetgate/enroll.token");
  });

  it("keeps a flag given as false or 0 (only undefined falls through)", () => {
    expect(pickSetting({ key: "k", flag: "--k" }, { flag: 0, file: 5 }, 9)).toEqual({ value: 0, from: "flag", via: "--k" });
  });
});
