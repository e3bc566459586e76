// The agent's one outbound stream to the coordinator: hello → registered, then tasks in and
// spooled events out. Reconnects with backoff whenever the stream breaks.
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { AgentService, ConnectRequestSchema, type ConnectRequest, type ConnectResponse } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import type { NodeIdentity } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { CHANNEL_OPTIONS, callBidiStream } from "../../shared/grpc/adapter.js";
import { FleetgateError } from "../../shared/errors.js";
import { Backoff } from "./backoff.js";
import { SizeRefusals } from "./event-size.js";
import type { Credentials } from "./credentials.js";
import type { Spool } from "./spool.js";

export interface ConnectionOptions {
  address: string;
  identity: NodeIdentity;
  credentials: Credentials;
  spool: Spool;
  log: Logger;
  onTask: (task: import("../../shared/gen/fleetgate/v1/agent_pb.js").Task) => void;
  /** The coordinator cancelled a task's run. */
  onCancel?: (taskId: string) => void;
  registerTimeoutMs?: number;
}

type Stream = grpc.ClientDuplexStream<ConnectRequest, ConnectResponse>;

export class AgentConnection {
  private readonly client: grpc.Client;
  private stream: Stream | undefined;
  private registered = false;
  /** Highest seq written on the current stream; everything pending above it still needs sending. */
  private sentUpTo = 0n;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly backoff = new Backoff();
  private wake: (() => void) | undefined;
  /** Every event goes out within the size limit; one refused for its size goes again as an error result. */
  private readonly sizes: SizeRefusals;

  constructor(private readonly opts: ConnectionOptions) {
    this.client = new grpc.Client(opts.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.sizes = new SizeRefusals(opts.log);
  }

  /** Runs until stop(); rejects only when the coordinator refuses our credentials for good. */
  async run(): Promise<void> {
    while (!this.stopped) {
      const error = await this.session();
      if (this.stopped) break;
      this.sizes.streamEnded(error, this.opts.spool.pending().map((e) => e.seq).filter((seq) => seq <= this.sentUpTo));
      if (error?.code === grpc.status.UNAUTHENTICATED) {
        if (this.opts.credentials.forgetNodeToken()) {
          this.opts.log.warn("node token refused; enrolling again with the enrollment token");
          continue;
        }
        throw FleetgateError.from(error, "unauthenticated", `coordinator at ${this.opts.address} refused this agent: ${error.details}`);
      }
      const delay = this.backoff.next();
      this.opts.log.warn({ retryInMs: delay, err: error?.details }, "not connected to coordinator; retrying");
      await new Promise<void>((r) => {
        // stop() wakes the loop and clears the timer, so a stopped agent exits now, not after the backoff.
        const timer = setTimeout(r, delay);
        this.wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.stream?.cancel();
    this.wake?.();
    this.client.close();
  }

  /** Sends spooled events not yet written on this stream. Called whenever the spool grows. */
  flush(): void {
    if (!this.stream || !this.registered) return;
    for (const event of this.opts.spool.pending()) {
      if (event.seq <= this.sentUpTo) continue;
      this.stream.write(create(ConnectRequestSchema, { msg: { case: "event", value: this.sizes.wire(event) } }));
      this.sentUpTo = event.seq;
    }
  }

  /** One stream's life; resolves with the error that ended it. */
  private session(): Promise<grpc.ServiceError | undefined> {
    const credential = this.opts.credentials.current();
    if (!credential) throw new FleetgateError("bad_input", "no token: pass --token (from `coord token create`) or set FLEETGATE_TOKEN");
    return new Promise((resolve) => {
      const stream = callBidiStream(this.client, AgentService, AgentService.method.connect);
      this.stream = stream;
      this.registered = false;
      this.sentUpTo = 0n;
      const timer = setTimeout(() => stream.cancel(), this.opts.registerTimeoutMs ?? 15_000);
      let ended = false;
      const end = (err?: grpc.ServiceError) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        clearInterval(this.heartbeat);
        this.registered = false;
        this.stream = undefined;
        resolve(err);
      };
      stream.on("data", (res: ConnectResponse) => {
        if (res.msg.case === "registered") {
          clearTimeout(timer);
          this.onRegistered(stream, res.msg.value);
        } else if (res.msg.case === "task") this.opts.onTask(res.msg.value);
        else if (res.msg.case === "ack") this.opts.spool.ack(res.msg.value.seq);
        else if (res.msg.case === "cancel") this.opts.onCancel?.(res.msg.value.taskId);
      });
      stream.on("error", (err: grpc.ServiceError) => end(err));
      stream.on("end", () => end(undefined));
      stream.write(
        create(ConnectRequestSchema, {
          msg: { case: "hello", value: { credential: { case: credential.case, value: credential.value }, identity: this.opts.identity } },
        }),
      );
    });
  }

  private onRegistered(stream: Stream, reg: { nodeName: string; nodeToken: string; lastAckedSeq: bigint; heartbeatIntervalMs: number; highestCommittedSeq: bigint }): void {
    this.registered = true;
    this.backoff.reset();
    if (reg.nodeToken) this.opts.credentials.save(reg.nodeToken);
    // Number above everything committed; forget only the unbroken prefix (a gap is resent).
    this.opts.spool.raiseFloor(reg.highestCommittedSeq > reg.lastAckedSeq ? reg.highestCommittedSeq : reg.lastAckedSeq);
    // Everything up to the prefix was committed (and acked before the link dropped); drop it here too.
    for (const e of this.opts.spool.pending()) if (e.seq <= reg.lastAckedSeq) this.opts.spool.ack(e.seq);
    this.opts.log.info({ node: reg.nodeName, pending: this.opts.spool.pending().length }, "registered with coordinator");
    const every = reg.heartbeatIntervalMs > 0 ? reg.heartbeatIntervalMs : 5000;
    this.heartbeat = setInterval(() => {
      stream.write(create(ConnectRequestSchema, { msg: { case: "heartbeat", value: { sentAtMs: BigInt(Date.now()) } } }));
    }, every);
    this.flush();
  }
}
