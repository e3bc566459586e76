// `coord refusals`: what the coordinator turned away (hellos, events, control calls, bytes that
// were not gRPC), counted by kind since its state dir was made, and the newest ones one by one.
import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { ControlService, ListRefusalsResponseSchema, type ListRefusalsResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { humanDuration } from "../../shared/durations.js";
import { table } from "./format.js";
import { connected, positiveInt, print, withClient, type ConnectionFlags } from "./kit.js";

const ago = (now: number, at: bigint) => `${humanDuration(now - Number(at))} ago`;

/** Pure: the answer as two tables, totals by kind then the newest refusals (newest first). */
export function formatRefusals(res: ListRefusalsResponse, now: number): string {
  if (!res.totals.length) return "nothing refused";
  const totals = [["SIDE", "KIND", "COUNT", "FIRST", "LAST"], ...res.totals.map((t) => [t.side, t.kind, String(t.count), ago(now, t.firstAtMs), ago(now, t.lastAtMs)])];
  const recent = [
    ["TIME", "SIDE", "KIND", "CODE", "PEER", "CLAIMED", "MESSAGE"],
    ...res.recent.map((r) => [new Date(Number(r.atMs)).toISOString(), r.side, r.kind, r.code, r.peer || "-", r.claimed || "-", r.message.replace(/\s+/g, " ")]),
  ];
  return `${table(totals)}\n\nnewest ${res.recent.length}:\n${table(recent)}`;
}

export function registerRefusalsCommand(program: Command): void {
  connected(
    program
      .command("refusals")
      .description("what the coordinator refused: counts by kind (bad credentials, conflicts, agent protocol versions not served, rate limits, foreign events, bad control tokens, garbage, oversize messages) and the newest refusals with time, peer and claimed name"),
  )
    .option("--limit <n>", "how many of the newest refusals to list (the coordinator keeps 1000)", positiveInt, 20)
    .option("--json", "print JSON")
    .action(async (flags: ConnectionFlags & { limit: number; json?: boolean }) => {
      const res = await withClient(flags, (c) => c.call(ControlService.method.listRefusals, { limit: flags.limit }));
      print(flags.json ? JSON.stringify(toJson(ListRefusalsResponseSchema, res), null, 2) : formatRefusals(res, Date.now()));
    });
}
