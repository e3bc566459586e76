// ControlService.ExportEvidence: a run's bundle, file by file, to `coord export`. Authorized like
// every other control call; reads only regular files of the bundle, so a symlink planted in the
// evidence dir cannot leak what it points at.
import { existsSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import * as pb from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { toGrpcError } from "../../shared/grpc/status.js";
import { isTerminal, statusName } from "../../shared/model/status.js";
import { walkBundle } from "../evidence/bundle-files.js";
import { MANIFEST_FILE } from "../evidence/manifest.js";
import type { EvidenceRecorder } from "../evidence/recorder.js";
import { getRun } from "../store/runs.js";
import { authorize, type ControlServiceDeps } from "./control-service.js";

export interface EvidenceServiceDeps extends ControlServiceDeps {
  evidence: EvidenceRecorder;
}

/** Well under the 4 MiB message limit; a larger file goes as consecutive chunks with the same path. */
export const EXPORT_CHUNK_BYTES = 1024 * 1024;

type ExportCall = grpc.ServerWritableStream<pb.ExportEvidenceRequest, pb.ExportEvidenceResponse>;

/** Resolves once grpc-js can take more, so a large bundle is never buffered whole in memory. */
function send(call: ExportCall, msg: pb.ExportEvidenceResponse): Promise<void> {
  return call.write(msg) ? Promise.resolve() : new Promise((resolve) => call.once("drain", resolve));
}

async function sendFile(call: ExportCall, dir: string, path: string): Promise<void> {
  const file = await open(join(dir, path), "r");
  try {
    const buf = Buffer.alloc(EXPORT_CHUNK_BYTES);
    // At least one message per file, so an empty file arrives too; a short read is the end.
    for (;;) {
      const { bytesRead } = await file.read(buf, 0, buf.length);
      await send(call, create(pb.ExportEvidenceResponseSchema, { path, content: Buffer.from(buf.subarray(0, bytesRead)) }));
      if (bytesRead < buf.length || call.cancelled) return;
    }
  } finally {
    await file.close();
  }
}

/** The bundle's directory, writing it first if the run finished but has none (e.g. a crash before the write). */
async function bundleFor(deps: EvidenceServiceDeps, runId: string): Promise<string> {
  const run = getRun(deps.db, runId);
  if (!run) throw new FleetgateError("not_found", `no run ${runId}; list them with: coord runs`);
  if (!isTerminal(run.status)) throw new FleetgateError("conflict", `run ${runId} is ${statusName(run.status)}; its evidence bundle is written when it finishes`);
  const dir = deps.evidence.dirOf(run);
  if (existsSync(join(dir, MANIFEST_FILE))) return dir;
  if ((await deps.evidence.record(runId)) && existsSync(join(dir, MANIFEST_FILE))) return dir;
  throw new FleetgateError("internal", `the evidence bundle of run ${runId} could not be written to ${dir}; see the coordinator's log`);
}

export function exportEvidenceHandler(deps: EvidenceServiceDeps) {
  return (call: ExportCall): void => {
    void (async () => {
      try {
        authorize(deps, call, "exportEvidence");
        const runId = call.request.runId;
        const dir = await bundleFor(deps, runId);
        const files = (await walkBundle(dir)).filter((e) => e.kind === "file");
        for (const { path } of files) {
          if (call.cancelled) return;
          await sendFile(call, dir, path);
        }
        deps.log.info({ run: runId, files: files.length }, "evidence bundle exported");
        call.end();
      } catch (err) {
        if (!(err instanceof FleetgateError)) deps.log.error({ err }, "evidence export failed");
        call.emit("error", Object.assign(new Error(String(err)), toGrpcError(err)));
      }
    })();
  };
}
