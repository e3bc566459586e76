// How the CLI reads runs back: a whole run (GetRun's pieces joined into one RunRecord, whatever its
// size) and run summaries (ListRuns, one a message). Neither is bounded by the message size limit.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ControlService, type GetRunResponse, type ListRunsRequestSchema, type RunRecord, type RunSummary } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { joinRunPieces } from "../../shared/grpc/run-pieces.js";
import type { ControlClient } from "./client.js";

/**
 * The stored run with every task, check result and output tail, as reports take it; without the
 * tails when asked (withoutOutput), or without any check result (withoutChecks: a record that
 * shows task statuses but cannot be judged; its verdict is the run's summary's).
 */
export async function readRun(client: ControlClient, runId: string, opts: { withoutOutput?: boolean; withoutChecks?: boolean } = {}): Promise<RunRecord> {
  const messages: GetRunResponse[] = [];
  for await (const m of client.stream(ControlService.method.getRun, { runId, withoutOutput: opts.withoutOutput ?? false, withoutChecks: opts.withoutChecks ?? false })) messages.push(m);
  return joinRunPieces(messages, runId);
}

/** Recent runs, newest first: each without tasks or output, with the coordinator's verdict. */
export async function listRunSummaries(client: ControlClient, req: MessageInitShape<typeof ListRunsRequestSchema>): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  for await (const m of client.stream(ControlService.method.listRuns, req)) {
    if (!m.run) throw new FleetgateError("internal", `the coordinator at ${client.address} listed a run without its summary; upgrade it to this CLI's version`);
    runs.push(m.run);
  }
  return runs;
}
