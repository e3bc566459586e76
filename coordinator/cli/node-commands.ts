// `coord nodes drain|undrain|label` and `coord nodes --missing`: an operator's node lifecycle, and
// the tailnet's fleet machines that have no agent (coord serve --tailscale-tag).
import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { ControlService, FleetRosterSchema, type FleetRoster } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { humanDuration } from "../../shared/durations.js";
import { FleetgateError } from "../../shared/errors.js";
import { formatLabels } from "../../shared/labels.js";
import { mergedLabels, parseLabelEdits } from "../fleet/node-labels.js";
import { rosterLine } from "../fleet/run-roster.js";
import { table } from "./format.js";
import { connected, print, withClient, type ConnectionFlags } from "./kit.js";

/** `coord nodes --missing`: one row per tagged machine without an agent. Pure. */
export function formatMissing(r: FleetRoster, now = Date.now()): string {
  const read = r.polledAtMs ? `read ${humanDuration(Math.max(0, now - Number(r.polledAtMs)))} ago` : "never read";
  const head = `${rosterLine(r)}; tailscale roster ${read}`;
  if (!r.missing.length) return head;
  const rows = [["NAME", "DNS NAME", "IPS", "TAILSCALE", "LAST SEEN"]];
  for (const m of r.missing) {
    const seen = m.online ? "now" : m.lastSeenMs ? `${humanDuration(Math.max(0, now - Number(m.lastSeenMs)))} ago` : "-";
    rows.push([m.hostName || "-", m.dnsName || "-", m.ips.join(",") || "-", m.online ? "online" : "offline", seen]);
  }
  return `${head}\n${table(rows)}\ninstall and start fleetgate-agent on each (or remove the tag); an agent counts once it registers with this machine's tailscale IP or DNS name`;
}

/** Prints the missing machines; throws when there is no roster to show (no tag, or tailscaled never answered). */
export async function showMissing(flags: ConnectionFlags & { json?: boolean }): Promise<void> {
  const { roster } = await withClient(flags, (c) => c.call(ControlService.method.listMissingMachines, { refresh: true }));
  if (!roster) throw new FleetgateError("conflict", "the coordinator keeps no Tailscale roster; start it with: coord serve --tailscale-tag tag:fleet (or tailscale_tag: in coord.yaml)");
  if (roster.error && !roster.polledAtMs) throw new FleetgateError("unreachable", `the coordinator could not read its tailnet: ${roster.error}`);
  if (roster.error) process.stderr.write(`coord: warning: tailscaled did not answer now (${roster.error}); showing the roster as last read\n`);
  print(flags.json ? JSON.stringify(toJson(FleetRosterSchema, roster), null, 2) : formatMissing(roster));
}

export function registerNodeLifecycleCommands(nodes: Command): void {
  connected(
    nodes
      .command("drain")
      .description("take a node out of new runs (operator): a run started from now on gives it no task, and a run that needs it (--node, --bind, or a stage only it matches) is refused saying so; a fleet stage runs on the other nodes and is narrowed (override drained) until sign-off accepts that; tasks of runs already started still go to it")
      .argument("<name>", "node name")
      .option("--reason <text>", "why, shown in coord nodes, refusals and the node's timeline", ""),
  ).action(async (name: string, flags: ConnectionFlags & { reason: string }) => {
    const { node, already } = await withClient(flags, (c) => c.call(ControlService.method.drainNode, { name, reason: flags.reason }));
    const why = node?.drain?.reason ? ` (${node.drain.reason})` : "";
    print(`${already ? "node already drained; reason now" : "drained node"} ${name}${why}: no new task goes to it; undo with: coord nodes undrain ${name}`);
  });

  connected(nodes.command("undrain").description("let a drained node take tasks again (operator)").argument("<name>", "node name")).action(async (name: string, flags: ConnectionFlags) => {
    const { wasDrained } = await withClient(flags, (c) => c.call(ControlService.method.undrainNode, { name }));
    print(wasDrained ? `undrained node ${name}: runs started from now on may give it tasks` : `node ${name} was not drained; nothing changed`);
  });

  connected(
    nodes
      .command("label")
      .description("set (KEY=VALUE) or remove (KEY-) labels on the coordinator's side (operator); merged over the agent's own --label, the coordinator's value wins for a key both set; plan selectors match the merged set; removing one shows the agent's value again")
      .argument("<name>", "node name")
      .argument("<labels...>", "KEY=VALUE to set, KEY- to remove, e.g. role=canary site-"),
  ).action(async (name: string, labels: string[], flags: ConnectionFlags) => {
    const edits = parseLabelEdits(labels);
    const { node } = await withClient(flags, (c) => c.call(ControlService.method.labelNode, { name, set: edits.set, remove: edits.remove }));
    const merged = formatLabels(mergedLabels(node?.identity?.labels ?? {}, node?.coordinatorLabels ?? {})) || "none";
    print(`node ${name}: coordinator labels ${formatLabels(node?.coordinatorLabels ?? {}) || "none"}; selectors match ${merged}`);
  });
}
