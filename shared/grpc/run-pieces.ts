// A stored run over the wire in bounded messages (GetRun). A run's record grows with its output —
// every check result keeps tails of both streams — so it can be larger than any message size limit:
// the coordinator encodes it once and sends the bytes in pieces, and the CLI joins them back into
// the same RunRecord, so reports stay pure functions of a whole run. Pure.
import { create } from "@bufbuild/protobuf";
import { GetRunResponseSchema, type GetRunResponse, type RunRecord } from "../gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../errors.js";
import { decodeRun, encodeRun } from "./run-codec.js";

/** A quarter of the 4 MiB message limit, as an evidence file's pieces: room for the envelope. */
export const RUN_PIECE_BYTES = 1024 * 1024;

/**
 * What GetRun sends for `run`: the run itself in one message when it fits in one piece (what a
 * client from before the pieces reads), otherwise its encoding in pieces of `pieceBytes`.
 */
export function runPieces(run: RunRecord, pieceBytes = RUN_PIECE_BYTES): GetRunResponse[] {
  const bytes = encodeRun(run);
  if (bytes.length <= pieceBytes) return [create(GetRunResponseSchema, { content: { case: "run", value: run } })];
  const runBytes = BigInt(bytes.length);
  const pieces: GetRunResponse[] = [];
  for (let at = 0; at < bytes.length; at += pieceBytes) {
    pieces.push(create(GetRunResponseSchema, { content: { case: "runPiece", value: bytes.subarray(at, at + pieceBytes) }, runBytes }));
  }
  return pieces;
}

function broken(runId: string, what: string): FleetgateError {
  return new FleetgateError("internal", `the coordinator's answer for run ${runId} ${what}; try again, and if it persists check that coord and the coordinator are the same version`);
}

/**
 * The run GetRun's messages carry: the one `run`, or the pieces joined and decoded. A stream that
 * is empty, mixes the two, or whose pieces do not add up to run_bytes is refused: a record cut
 * short at a field boundary would decode into a run with tasks missing, and a wrong verdict.
 */
export function joinRunPieces(messages: readonly GetRunResponse[], runId: string): RunRecord {
  const whole = messages.filter((m) => m.content.case === "run");
  const pieces = messages.flatMap((m) => (m.content.case === "runPiece" ? [m] : []));
  if (whole.length + pieces.length !== messages.length) throw broken(runId, "holds a message with neither the run nor a piece of it");
  if (whole.length === 1 && !pieces.length && whole[0]?.content.case === "run") return whole[0].content.value;
  if (whole.length) throw broken(runId, `holds ${whole.length} whole runs and ${pieces.length} pieces; expected one run or only pieces`);
  if (!pieces.length) throw broken(runId, "is empty");
  const expected = pieces[0]?.runBytes ?? 0n;
  if (pieces.some((p) => p.runBytes !== expected)) throw broken(runId, "has pieces that disagree on the run's size");
  const bytes = Buffer.concat(pieces.map((p) => p.content.value as Uint8Array));
  if (BigInt(bytes.length) !== expected) throw broken(runId, `was cut short: ${bytes.length} of ${expected} bytes`);
  try {
    return decodeRun(bytes);
  } catch (err) {
    throw FleetgateError.from(err, "internal", `the coordinator's answer for run ${runId} does not decode as a run: ${(err as Error).message}`);
  }
}
