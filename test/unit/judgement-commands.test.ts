// The judgement commands: pure parts, then the commands over gRPC on loopback against a server
// that serves SignOff, ListRuns and GetRun from a real SQLite store, as control-service.ts does:
// GetRun and ListRuns stream (a whole run in pieces, summaries one a message).
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { formatKnownGood, pairAcceptances, registerJudgementCommands, type AcceptToken } from "../../coordinator/cli/judgement-commands.js";
import { signOff } from "../../coordinator/runs/sign-off.js";
import type { Db } from "../../coordinator/store/db.js";
import { loadRunRecord } from "../../coordinator/store/run-record.js";
import { finishRun, insertRun, listRuns } from "../../coordinator/store/runs.js";
import { setTaskStatus } from "../../coordinator/store/tasks.js";
import * as pb from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { toGrpcError } from "../../shared/grpc/status.js";
import { serviceDefinition } from "../../shared/grpc/adapter.js";
import { Status } from "../../shared/model/status.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";
import { run } from "./judgement-runs.js";
import { runSummary } from "../../coordinator/judgement/run-summary.js";
import { summarizeStored } from "../../coordinator/judgement/stored.js";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { runPieces } from "../../shared/grpc/run-pieces.js";

describe("pairAcceptances", () => {
  const t = (flag: AcceptToken["flag"], value: string): AcceptToken => ({ flag, value });

  it("pairs each --accept-skip and --accept-override with the --reason typed after it", () => {
    const tokens = [t("accept-skip", "matrix"), t("reason", "covered by r0"), t("accept-override", "iterations"), t("reason", "hotfix"), t("accept-skip", "fleet/kvm"), t("reason", "no KVM")];
    expect(pairAcceptances(tokens)).toEqual({
      skips: [
        { target: "matrix", reason: "covered by r0" },
        { target: "fleet/kvm", reason: "no KVM" },
      ],
      overrides: [{ target: "iterations", reason: "hotfix" }],
    });
  });

  it("refuses an --accept-skip without its --reason, naming it", () => {
    expect(() => pairAcceptances([t("accept-skip", "matrix"), t("accept-override", "nodes"), t("reason", "why")])).toThrow(
      "--accept-skip matrix needs --reason TEXT (every acceptance is recorded with why it is acceptable)",
    );
  });

  it("refuses a --reason that follows no acceptance", () => {
    expect(() => pairAcceptances([t("reason", "why")])).toThrow('--reason "why" follows no --accept-skip or --accept-override; write --accept-skip TARGET --reason TEXT or --accept-override NAME --reason TEXT');
  });
});

describe("formatKnownGood", () => {
  it("lists run, plan, revision, signer, time and accepted skips", () => {
    const signed = run({ runId: "r7", signoff: { by: "alice", atMs: 1_714_560_000_000n, accepted: [{ target: "matrix", reason: "no KVM", source: "sign-off" }] } });
    expect(formatKnownGood([runSummary(signed, judgeRun(signed))])).toBe(
      [
        "RUN  PLAN     REVISION  SIGNED BY  WHEN                      ACCEPTED SKIPS",
        "r7   release  rev1      alice      2024-05-01T10:40:00.000Z  matrix (no KVM)",
      ].join("\n"),
    );
  });

  it("says how to get a known-good run when there is none", () => {
    expect(formatKnownGood([], "release")).toBe("no signed-off runs of plan release; sign a GO run off with: coord signoff RUN");
  });
});

describe.each(STORE_ENGINES)("coord signoff, known-good and diff over gRPC (%s)", (storeEngine) => {
  const testStore = storeOf(storeEngine);
  let db: Db;
  let server: grpc.Server;
  let address: string;

  function unary<Req, Res>(fn: (req: Req) => Res) {
    return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
      try {
        callback(null, fn(call.request));
      } catch (err) {
        callback(toGrpcError(err) as grpc.ServiceError);
      }
    };
  }

  function streamed<Req, Res>(fn: (req: Req) => Res[]) {
    return (call: grpc.ServerWritableStream<Req, Res>) => {
      try {
        for (const msg of fn(call.request)) call.write(msg);
        call.end();
      } catch (err) {
        call.emit("error", Object.assign(new Error(String(err)), toGrpcError(err)));
      }
    };
  }

  function store(id: string, planName: string, http: Status, createdAt: number): void {
    const taskId = `${id}/fleet/n1/1`;
    insertRun(
      db,
      { id, planName, planPath: "gate.yaml", planYaml: "", suites: {}, stages: ["fleet"], flags: [], createdAt, mode: "full", planRevision: `rev-${planName}`, options: {}, nodes: [] },
      [{ id: taskId, stageId: "fleet", nodeName: "n1", iteration: 1, suitePath: "fleet.yaml", allowDestructive: false }],
    );
    setTaskStatus(db, taskId, http, "", createdAt);
    finishRun(db, id, http, createdAt);
  }

  beforeAll(async () => {
    db = await testStore.openForAll();
    store("r1", "release", Status.PASSED, 1_000);
    store("r2", "release", Status.PASSED, 2_000);
    store("r3", "other", Status.PASSED, 3_000);
    store("r4", "release", Status.FAILED, 4_000);
    server = new grpc.Server();
    server.addService(serviceDefinition(pb.ControlService), {
      signOff: unary((req: pb.SignOffRequest) =>
        create(pb.SignOffResponseSchema, { run: signOff(db, { runId: req.runId, by: req.by, accept: req.accept.map((s) => ({ target: s.target, reason: s.reason })) }, 1_714_560_000_000) }),
      ),
      listRuns: streamed((req: pb.ListRunsRequest) =>
        listRuns(db, req.limit || 20, { planName: req.planName || undefined, signedOnly: req.signedOnly }).map((r) => create(pb.ListRunsResponseSchema, { run: summarizeStored(db, r.id) })),
      ),
      getRun: streamed((req: pb.GetRunRequest) => {
        const r = loadRunRecord(db, req.runId);
        if (!r) throw new FleetgateError("not_found", `no run ${req.runId}; list them with: coord runs`);
        // Small pieces, so the CLI joins several even for these small runs.
        return runPieces(r, 64);
      }),
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    address = `127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    db.close();
  });

  /** Runs `coord ARGS…` and returns what it printed on stdout. */
  async function coord(...args: string[]): Promise<string> {
    const program = new Command("coord").exitOverride();
    registerJudgementCommands(program);
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      await program.parseAsync(["node", "coord", ...args, "--coordinator", address, "--token", "t"]);
    } finally {
      write.mockRestore();
    }
    return out.join("");
  }

  it("signs a GO run off, then lists it as known-good for its plan only", async () => {
    expect(await coord("signoff", "r2", "--by", "alice")).toBe("run r2 (release) signed off by alice at 2024-05-01T10:40:00.000Z\n");
    expect(await coord("known-good", "release")).toMatch(/^RUN +PLAN +REVISION +SIGNED BY +WHEN +ACCEPTED SKIPS\nr2 +release +rev-release +alice +2024-05-01T10:40:00.000Z +-\n$/);
    expect(await coord("known-good", "other")).toBe("no signed-off runs of plan other; sign a GO run off with: coord signoff RUN\n");
  });

  it("passes the coordinator's refusal through with its message", async () => {
    await expect(coord("signoff", "r4", "--by", "alice")).rejects.toThrow(
      expect.objectContaining({ code: "conflict", message: expect.stringMatching(/^run r4 is NO-GO, only a GO run can be signed off: fleet on n1 #1: failed/) as string }) as Error,
    );
  });

  it("refuses an --accept-skip without --reason before calling the coordinator", async () => {
    await expect(coord("signoff", "r1", "--by", "alice", "--accept-skip", "matrix")).rejects.toThrow("--accept-skip matrix needs --reason TEXT");
    expect(loadRunRecord(db, "r1")?.signoff).toBeUndefined();
  });

  it("diffs two stored runs, as JSON too", async () => {
    expect(await coord("diff", "r1", "r4")).toBe("diff r1 -> r4 (plan release)\n\nno difference in check outcomes or node facts\n");
    const json = JSON.parse(await coord("diff", "r1", "r3", "--json")) as { a: { planRevision: string }; b: { planRevision: string } };
    expect([json.a.planRevision, json.b.planRevision]).toEqual(["rev-release", "rev-other"]);
  });

  it("names the run that does not exist", async () => {
    await expect(coord("diff", "r1", "nope")).rejects.toThrow(expect.objectContaining({ code: "not_found", message: "no run nope; list them with: coord runs" }) as Error);
  });
});
