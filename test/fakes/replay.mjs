#!/usr/bin/env node
// A stand-in for a tool that cannot run here (podman, systemctl, bitcoin-cli, nginx, …).
// Installed first on PATH under the tool's name, it replays a RECORDED output from
// test/fixtures: stdout, stderr and exit code, chosen by a scenario file. It invents nothing.
//
// FLEETGATE_FAKE_SCENARIO=/path/scenario.json:
//   { "fixtures": "/abs/test/fixtures", "log": "/abs/calls.jsonl",
//     "rules": [ { "tool": "podman", "args": "^inspect lnd", "fixture": "podman/inspect-missing" },
//                { "tool": "podman", "args": "^inspect", "stdout": "podman/inspect-state-running-healthy.constructed.json" } ] }
// A rule with "fixture" replays NAME.stdout, NAME.stderr and NAME.rc (missing files mean empty, 0).
// A rule with "stdout" replays that one file with exit code "rc" (default 0).
// The first rule whose tool matches and whose "args" regex matches the joined argv wins.
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

const tool = basename(process.argv[1]);
const args = process.argv.slice(2);
const scenarioPath = process.env.FLEETGATE_FAKE_SCENARIO;
if (!scenarioPath) {
  process.stderr.write(`fake ${tool}: FLEETGATE_FAKE_SCENARIO is not set\n`);
  process.exit(127);
}
const scenario = JSON.parse(readFileSync(scenarioPath, "utf8"));
if (scenario.log) appendFileSync(scenario.log, `${JSON.stringify({ tool, args })}\n`);

const rule = scenario.rules.find((r) => r.tool === tool && new RegExp(r.args ?? "").test(args.join(" ")));
if (!rule) {
  process.stderr.write(`fake ${tool}: no scenario rule for: ${tool} ${args.join(" ")}\n`);
  process.exit(127);
}
const read = (rel) => (existsSync(join(scenario.fixtures, rel)) ? readFileSync(join(scenario.fixtures, rel)) : Buffer.alloc(0));
let rc = rule.rc ?? 0;
if (rule.fixture) {
  process.stdout.write(read(`${rule.fixture}.stdout`));
  process.stderr.write(read(`${rule.fixture}.stderr`));
  const rcText = read(`${rule.fixture}.rc`).toString().trim();
  if (rcText) rc = Number(rcText);
} else if (rule.stdout) {
  process.stdout.write(read(rule.stdout));
}
process.exitCode = rc;
