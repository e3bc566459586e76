// The shipped systemd units, checked by systemd itself: `systemd-analyze verify` finds nothing to
// say about them, and `systemd-analyze security --offline=true` rates each at or below the score
// recorded in deploy/systemd/scores.json (which stays within the goals). A unit stripped
// of its hardening scores above that, so the score check is one that can fail.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_BIN, COORD_BIN, ROOT } from "../../scripts/local-fleet.js";
import { exposure, prepareVerifyRoot, securityThresholdExit, verifyUnits } from "../support/systemd-analyze.js";
import { needsTool } from "../support/system-tools.js";
import { execArgv, readUnitFile, unitValue, unitValues } from "../support/unit-file.js";

const UNITS = join(ROOT, "deploy/systemd");
const SERVICES = ["fleetgate-coord.service", "fleetgate-agent.service"];
const ALL_UNITS = [...SERVICES, "fleetgate-agent.path"];
const scores = JSON.parse(readFileSync(join(UNITS, "scores.json"), "utf8")) as Record<string, { score: number; goal: number }>;
const analyze = needsTool("systemd-analyze", "systemd");

/** What a service needs to run at all; everything else in [Service] is hardening. */
const OPERATIONAL = new Set(["Type", "ExecStart", "StateDirectory", "StateDirectoryMode", "Restart", "RestartSec", "RestartForceExitStatus", "KillMode", "TimeoutStopSec"]);

/** The unit with every hardening setting of [Service] removed. */
function unhardened(text: string): string {
  let section = "";
  return text
    .split("\n")
    .filter((line) => {
      const header = /^\[(.+)\]$/.exec(line.trim());
      if (header) section = header[1]!;
      const key = /^([A-Za-z]+)=/.exec(line)?.[1];
      return section !== "Service" || key === undefined || OPERATIONAL.has(key);
    })
    .join("\n");
}

describe.skipIf(!analyze)("systemd units (deploy/systemd)", () => {
  let root: string;

  beforeAll(() => {
    // A root where ExecStart= programs exist: the repository's entry points stand at the paths the
    // packages install them to (the .deb test verifies the units again inside the real package).
    root = mkdtempSync(join(tmpdir(), "fleetgate-units-"));
    prepareVerifyRoot(root);
    copyFileSync(COORD_BIN, join(root, "usr/bin/coord"));
    copyFileSync(AGENT_BIN, join(root, "usr/bin/fleetgate-agent"));
    for (const u of ALL_UNITS) copyFileSync(join(UNITS, u), join(root, "lib/systemd/system", u));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("passes systemd-analyze verify without a single warning", async () => {
    const r = await verifyUnits(root, ALL_UNITS.map((u) => `/lib/systemd/system/${u}`));
    expect(r).toEqual({ exitCode: 0, output: "" });
  });

  it("verify complains about a unit systemd would misread (so the check above can fail)", async () => {
    const bad = join(root, "lib/systemd/system/fleetgate-typo.service");
    writeFileSync(bad, readFileSync(join(UNITS, "fleetgate-coord.service"), "utf8").replace("ProtectSystem=strict", "ProtectSytem=strict"));
    const r = await verifyUnits(root, ["/lib/systemd/system/fleetgate-typo.service"]);
    expect(r.output).toMatch(/Unknown key.*'ProtectSytem'/);
    rmSync(bad);
  });

  it("verify fails a unit whose ExecStart= program is not installed", async () => {
    const missing = join(root, "lib/systemd/system/fleetgate-missing.service");
    writeFileSync(missing, readFileSync(join(UNITS, "fleetgate-coord.service"), "utf8").replace("/usr/bin/coord ", "/usr/bin/coord-gone "));
    const r = await verifyUnits(root, ["/lib/systemd/system/fleetgate-missing.service"]);
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toContain("/usr/bin/coord-gone is not executable");
    rmSync(missing);
  });

  for (const service of SERVICES) {
    it(`${service} scores at most its recorded exposure, which is within the goal`, async () => {
      const recorded = scores[service];
      expect(recorded, `deploy/systemd/scores.json has no score for ${service}`).toBeDefined();
      expect(recorded!.score).toBeLessThanOrEqual(recorded!.goal);
      const file = join(UNITS, service);
      expect(await exposure(file)).toBeLessThanOrEqual(recorded!.score);
      expect(await securityThresholdExit(file, recorded!.score)).toBe(0);
    });

    it(`${service} without its hardening scores above the recorded exposure`, async () => {
      const file = join(root, `bare-${service}`);
      writeFileSync(file, unhardened(readFileSync(join(UNITS, service), "utf8")));
      const bare = await exposure(file);
      expect(bare).toBeGreaterThan(scores[service]!.score);
      expect(bare).toBeGreaterThan(scores[service]!.goal);
      expect(await securityThresholdExit(file, scores[service]!.score)).not.toBe(0);
    });
  }
});

describe("recorded scores", () => {
  it("docs/agent-hardening.md shows the scores CI enforces", () => {
    const doc = readFileSync(join(ROOT, "docs/agent-hardening.md"), "utf8");
    for (const service of SERVICES) {
      expect(doc).toMatch(new RegExp(`\\| \`${service.replace(".", "\\.")}\` \\| \\*\\*${scores[service]!.score.toFixed(1)}\\*\\* `));
    }
  });
});

describe("units leave the settings to /etc/fleetgate (flag > env > file)", () => {
  const units = Object.fromEntries(SERVICES.map((s) => [s, readUnitFile(join(UNITS, s))]));

  it("no unit sets a FLEETGATE_* variable or an EnvironmentFile=, which would override the config file; the agent's sets only Node's NODE_OPTIONS", () => {
    for (const unit of Object.values(units)) {
      expect(unitValues(unit, "Service", "Environment").join(" ")).not.toMatch(/FLEETGATE_/);
      expect(unitValues(unit, "Service", "EnvironmentFile")).toEqual([]);
    }
    expect(unitValues(units["fleetgate-coord.service"]!, "Service", "Environment")).toEqual([]);
    expect(unitValues(units["fleetgate-agent.service"]!, "Service", "Environment")).toEqual(["NODE_OPTIONS=--max-semi-space-size=1"]);
  });

  it("each service starts the packaged program with the example config's path", () => {
    expect(execArgv(unitValue(units["fleetgate-coord.service"]!, "Service", "ExecStart")!)).toEqual(["/usr/bin/coord", "serve", "--config", "/etc/fleetgate/coord.yaml"]);
    expect(execArgv(unitValue(units["fleetgate-agent.service"]!, "Service", "ExecStart")!)).toEqual(["/usr/bin/fleetgate-agent", "run", "--config", "/etc/fleetgate/agent.yaml"]);
  });

  it("StateDirectory= is where the programs and the example configs keep their state by default", async () => {
    const cases = [
      { unit: "fleetgate-coord.service", example: "coord.yaml", help: [COORD_BIN, "serve", "--help"] },
      { unit: "fleetgate-agent.service", example: "agent.yaml", help: [AGENT_BIN, "run", "--help"] },
    ];
    for (const c of cases) {
      const dir = `/var/lib/${unitValue(units[c.unit]!, "Service", "StateDirectory")}`;
      const example = parseYaml(readFileSync(join(ROOT, "deploy/examples", c.example), "utf8")) as { state_dir?: string };
      expect(example.state_dir).toBe(dir);
      const help = await execa(process.execPath, c.help, { reject: false });
      expect(help.stdout.replace(/\s+/g, " ")).toContain(`default ${dir})`);
    }
  });

  it("the agent starts only once enrolled: the example's token_file or the node token in its state dir", () => {
    const agent = units["fleetgate-agent.service"]!;
    const example = parseYaml(readFileSync(join(ROOT, "deploy/examples/agent.yaml"), "utf8")) as { token_file?: string };
    const stateDir = `/var/lib/${unitValue(agent, "Service", "StateDirectory")}`;
    expect(unitValues(agent, "Unit", "ConditionPathExists")).toEqual([`|${example.token_file}`, `|${stateDir}/node.token`]);
    const path = readUnitFile(join(UNITS, "fleetgate-agent.path"));
    expect(unitValues(path, "Path", "PathExists")).toEqual([example.token_file]);
  });
});
