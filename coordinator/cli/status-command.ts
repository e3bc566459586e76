// `coord status` (issue 19): each coordinator given (--coordinator a:7400,b:7400 or one) says what
// it is — active or standby, its store — and which one is active as the lease shows it. Formatting
// is pure; each coordinator answers GetCoordinator, a standby included.
import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { ControlService, GetCoordinatorResponseSchema, type GetCoordinatorResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { EXIT_CODE, FleetgateError } from "../../shared/errors.js";
import { coordinatorList } from "./client.js";
import { table } from "./format.js";
import { connected, print, withClient, type ConnectionFlags } from "./kit.js";

/** One coordinator of the list: its answer, or why there is none. */
export type StatusAnswer = { address: string; status: GetCoordinatorResponse } | { address: string; error: string };

function activeColumn(s: GetCoordinatorResponse): string {
  if (s.store === "sqlite") return "itself (SQLite: no standbys)";
  const a = s.active;
  if (!a) return "none yet";
  const since = new Date(Number(a.acquiredAtMs)).toISOString();
  return `${a.id} at ${a.address} since ${since}${a.expired ? `; lease expired ${new Date(Number(a.expiresAtMs)).toISOString()}` : ""}`;
}

/** The table `coord status` prints. Pure. */
export function formatStatus(answers: readonly StatusAnswer[]): string {
  const rows = answers.map((a) =>
    "error" in a ? [a.address, "-", "unreachable", "-", a.error] : [a.address, a.status.id || "-", a.status.role, a.status.store, activeColumn(a.status)],
  );
  return table([["COORDINATOR", "ID", "ROLE", "STORE", "ACTIVE"], ...rows]);
}

/** 0 when one of them answered as the active coordinator, else the exit status of "unreachable". */
export function statusExit(answers: readonly StatusAnswer[]): number {
  return answers.some((a) => "status" in a && a.status.role === "active") ? 0 : EXIT_CODE.unreachable;
}

export function registerStatusCommand(program: Command): void {
  connected(
    program
      .command("status")
      .description(
        "which coordinator is active: every coordinator given (--coordinator a:7400,b:7400, or one) says its role (active or standby), its store and the active one as the lease shows it; exit 0 when one answered as active, 4 when none did",
      )
      .option("--json", "print the answers as JSON: one object per coordinator, its status or its error"),
  ).action(async (flags: ConnectionFlags & { json?: boolean }) => {
    // Each coordinator alone: a standby answers for itself rather than sending the CLI on.
    const answers = await Promise.all(
      coordinatorList(flags).map(async (address): Promise<StatusAnswer> => {
        try {
          return { address, status: await withClient({ ...flags, coordinator: address }, (c) => c.call(ControlService.method.getCoordinator, {})) };
        } catch (err) {
          return { address, error: FleetgateError.from(err).message.replace(/^coord: /, "") };
        }
      }),
    );
    if (flags.json) print(JSON.stringify(answers.map((a) => ("error" in a ? a : { address: a.address, status: toJson(GetCoordinatorResponseSchema, a.status) })), null, 2));
    else print(formatStatus(answers));
    process.exitCode = statusExit(answers);
  });
}
