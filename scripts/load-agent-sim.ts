// One simulated agent for the load tool (scripts/load-agents.ts): a real gRPC agent stream to a
// real coordinator, speaking the wire as agent/daemon/connection.ts does — hello with an identity
// and (over TLS) a public key, heartbeats at the interval the coordinator asks for, and for each
// task one CheckEvent per check of the task's suite, then a TaskDone, numbered like a spool — but
// the results are synthetic: each check "takes" checkMs and passes unless it is drawn to fail.
import { randomBytes, randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { parse } from "yaml";
import { KIND_NAMES } from "../shared/model/kinds/index.js";
import { AgentEventSchema, AgentService, ConnectRequestSchema, type ConnectRequest, type ConnectResponse, type Task } from "../shared/gen/fleetgate/v1/agent_pb.js";
import { CheckResultSchema, Status } from "../shared/gen/fleetgate/v1/common_pb.js";
import { CHANNEL_OPTIONS, callBidiStream } from "../shared/grpc/adapter.js";
import { retryAfterMs } from "../shared/grpc/status.js";
import { channelCredentials } from "../shared/tls/channel.js";
import { PROTOCOL_VERSION } from "../shared/protocol.js";
import { FLEETGATE_VERSION } from "../shared/version.js";

/** Hellos a simulated agent sends before it gives up (a real agent never does; a load test must end). */
const MAX_HELLO_ATTEMPTS = 20;

export interface SimOptions {
  address: string;
  name: string;
  enrollToken: string;
  labels: Record<string, string>;
  /** The coordinator's CA (it serves TLS); undefined: plaintext (`coord serve --insecure`). */
  caPem?: string;
  /** The SPKI public key sent in the hello over TLS; one key may serve every simulated node. */
  publicKeyPem?: string;
  checkMs: number;
  /** Fraction of checks that fail, drawn per check. */
  failRate: number;
}

export interface SimEvents {
  registered(name: string): void;
  /** A task answered: how long it took on this "node", from receipt to its TaskDone. */
  taskDone(name: string, ms: number): void;
  /** A hello that did not get through (refused for a while, or the connection failed), to be sent again. */
  retried(name: string): void;
  /** The stream ended after registration, or registration was refused for good. */
  failed(name: string, why: string): void;
}

/** Suite text → its checks' ids and kinds: every task of a fleet stage carries the same suite, so it is parsed once. */
const parsedSuites = new Map<string, { id: string; kind: string }[]>();

/** The check ids of a task's suite, in declared order (what the real agent would run and report). */
export function suiteChecks(task: Task): { id: string; kind: string }[] {
  let checks = parsedSuites.get(task.suiteYaml);
  if (!checks) {
    const suite = parse(task.suiteYaml) as { checks?: Record<string, unknown>[] };
    checks = (suite.checks ?? []).map((c) => ({ id: String(c.id), kind: KIND_NAMES.find((k) => k in c) ?? "command" }));
    // A handful of suites per load run; bounded anyway, so a long run of generated suites cannot grow it.
    if (parsedSuites.size > 100) parsedSuites.clear();
    parsedSuites.set(task.suiteYaml, checks);
  }
  const only = new Set(task.onlyChecks);
  return only.size === 0 ? checks : checks.filter((c) => only.has(c.id));
}

export class SimAgent {
  private readonly machineId = randomBytes(16).toString("hex");
  /** As an agent keeps it in its state dir: a hello said again after a lost reply is known by it. */
  private readonly enrollmentSecret = randomBytes(32).toString("base64url");
  private readonly origin: { machineId: string; bootId: string; hostname: string };
  private stream: grpc.ClientDuplexStream<ConnectRequest, ConnectResponse> | undefined;
  private client: grpc.Client | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private seq = 0n;
  private registered = false;
  private stopped = false;
  private attempts = 0;

  constructor(
    private readonly o: SimOptions,
    private readonly on: SimEvents,
  ) {
    this.origin = { machineId: this.machineId, bootId: randomUUID(), hostname: o.name };
  }

  start(): void {
    // A channel of its own (no shared subchannel), so each simulated node has its own connection, as on a fleet.
    const credentials = channelCredentials(this.o.address, this.o.caPem ? { caPem: this.o.caPem } : undefined, { insecure: !this.o.caPem, caFlag: "--ca" });
    this.client = new grpc.Client(this.o.address, credentials, { ...CHANNEL_OPTIONS, "grpc.use_local_subchannel_pool": 1 });
    const stream = callBidiStream(this.client, AgentService, AgentService.method.connect);
    this.stream = stream;
    stream.on("data", (res: ConnectResponse) => this.received(res));
    stream.on("error", (err: grpc.ServiceError) => this.ended(err));
    stream.on("end", () => this.ended(undefined));
    const identity = { name: this.o.name, machineId: this.machineId, bootId: this.origin.bootId, hostname: this.o.name, labels: this.o.labels, agentVersion: FLEETGATE_VERSION };
    stream.write(
      create(ConnectRequestSchema, {
        msg: { case: "hello", value: { credential: { case: "enrollToken", value: this.o.enrollToken }, enrollmentSecret: this.enrollmentSecret, identity, publicKeyPem: this.o.publicKeyPem ?? "", agentInstance: randomUUID(), protocolVersion: PROTOCOL_VERSION, takesAckBatches: true } },
      }),
    );
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.stream?.cancel();
    this.client?.close();
  }

  private ended(err: grpc.ServiceError | undefined): void {
    clearInterval(this.heartbeat);
    if (this.stopped) return;
    this.client?.close();
    // Not registered yet and not refused for good (a rate or a count, a connection reset while the
    // coordinator is swamped): wait as an agent would, at least the coordinator's hint, and say hello again.
    const forGood = err?.code === grpc.status.UNAUTHENTICATED || err?.code === grpc.status.FAILED_PRECONDITION || err?.code === grpc.status.INVALID_ARGUMENT;
    if (!this.registered && !forGood && this.attempts < MAX_HELLO_ATTEMPTS) {
      this.attempts++;
      this.on.retried(this.o.name);
      setTimeout(() => this.start(), Math.max(retryAfterMs(err) ?? 0, 500 + Math.random() * 1500));
      return;
    }
    this.stopped = true;
    this.on.failed(this.o.name, err ? `${grpc.status[err.code]}: ${err.details}` : "the coordinator ended the stream");
  }

  private received(res: ConnectResponse): void {
    if (res.msg.case === "registered") {
      this.registered = true;
      const every = res.msg.value.heartbeatIntervalMs > 0 ? res.msg.value.heartbeatIntervalMs : 5000;
      this.heartbeat = setInterval(() => this.write({ case: "heartbeat", value: { sentAtMs: BigInt(Date.now()) } }), every);
      this.on.registered(this.o.name);
    } else if (res.msg.case === "task") void this.answer(res.msg.value);
  }

  private write(msg: MessageInitShape<typeof ConnectRequestSchema>["msg"]): void {
    this.stream?.write(create(ConnectRequestSchema, { msg }));
  }

  private send(body: MessageInitShape<typeof AgentEventSchema>["body"]): void {
    this.seq += 1n;
    this.write({ case: "event", value: create(AgentEventSchema, { seq: this.seq, origin: this.origin, body }) });
  }

  /** Results as the suite would produce them, one check after another, each taking checkMs. */
  private async answer(task: Task): Promise<void> {
    const started = Date.now();
    let failed = 0;
    for (const check of suiteChecks(task)) {
      const at = Date.now();
      if (this.o.checkMs > 0) await new Promise((r) => setTimeout(r, this.o.checkMs));
      if (this.stopped) return;
      const fails = Math.random() < this.o.failRate;
      if (fails) failed++;
      const result: MessageInitShape<typeof CheckResultSchema> = {
        checkId: check.id,
        kind: check.kind,
        status: fails ? Status.FAILED : Status.PASSED,
        summary: fails ? "expected exit 0, saw 1 (synthetic)" : "exit 0",
        startedAtMs: BigInt(at),
        durationMs: BigInt(Date.now() - at),
        attempts: 1,
      };
      this.send({ case: "check", value: { taskId: task.taskId, result } });
    }
    this.send({ case: "taskDone", value: { taskId: task.taskId, status: failed ? Status.FAILED : Status.PASSED, summary: failed ? `${failed} failed` : "all passed" } });
    this.on.taskDone(this.o.name, Date.now() - started);
  }
}
