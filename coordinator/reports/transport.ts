// A run whose results crossed plaintext gRPC (coord serve --insecure) says so wherever it is shown:
// the CLI, every report format. It does not change the verdict; it tells the reader how far to
// trust the wire the results came over.
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";

export function insecureNote(run: Pick<RunRecord, "transport">): string | undefined {
  return run.transport === "plaintext" ? "INSECURE: this run's tasks and results crossed plaintext gRPC (coord serve --insecure)" : undefined;
}
