// The agent's one outbound stream to the coordinator: hello → registered, then tasks in and
// spooled events out. Reconnects whenever the stream breaks: to the next of its coordinators, or
// to the active one a standby names, with backoff once a whole round failed (coordinator-choice.ts).
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { AgentService, ConnectRequestSchema, type ConnectRequest, type ConnectResponse, type Registered } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import type { AgentHealth, NodeIdentity } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { CHANNEL_OPTIONS, callBidiStream } from "../../shared/grpc/adapter.js";
import { FleetgateError } from "../../shared/errors.js";
import { retryAfterMs } from "../../shared/grpc/status.js";
import { activeCoordinatorHint } from "../../shared/grpc/standby.js";
import { Backoff } from "./backoff.js";
import { afterFailure, afterRegistration, FIRST_CHOICE, type CoordinatorChoice, type NextCoordinator } from "./coordinator-choice.js";
import { DEFAULT_LIMITS, Delivery, type DeliveryLimits } from "./delivery.js";
import { SizeRefusals } from "./event-size.js";
import type { Credentials } from "./credentials.js";
import type { Spool } from "./spool.js";
import type { NodeTls } from "./node-tls.js";
import { channelCredentials } from "../../shared/tls/channel.js";
import { PROTOCOL_VERSION } from "../../shared/protocol.js";

/** How long a registered stream must stay up before the agent counts it a good connection. */
const SETTLED_MS = 1_000;

export interface ConnectionOptions {
  /** The coordinators, tried in this order (one or more, each host:port). */
  addresses: readonly string[];
  identity: NodeIdentity;
  credentials: Credentials;
  spool: Spool;
  log: Logger;
  onTask: (task: import("../../shared/gen/fleetgate/v1/agent_pb.js").Task) => void;
  /** The coordinator cancelled a task's run. */
  onCancel?: (taskId: string) => void;
  registerTimeoutMs?: number;
  /** What the agent says of itself in its hello and heartbeats (degraded, warnings). */
  health?: () => Pick<AgentHealth, "degraded" | "warnings">;
  /** An event sent and not acknowledged this long counts as a failed delivery: the stream is dropped and it is sent again. */
  ackTimeoutMs?: number;
  /** The delivery window and the poison rule (delivery.ts); the defaults suit production. */
  delivery?: Partial<DeliveryLimits>;
  /** The node's key, certificate and pinned CA; without a CA, plaintext (loopback or --insecure only). */
  tls?: NodeTls;
  /** --insecure: plaintext even off loopback, for a coordinator started with coord serve --insecure. */
  insecure?: boolean;
  /** Told of each registration and each stream's end (the daemon's metrics, --metrics-listen). */
  observer?: ConnectionObserver;
}

export interface ConnectionObserver {
  /** `coordinator`: the address of the coordinator that took the agent. */
  registered(coordinator: string): void;
  /** `unacked`: events written on the stream and not acknowledged; they are sent again. */
  streamEnded(unacked: number): void;
}

const DEFAULT_ACK_TIMEOUT_MS = 120_000;

/** This agent process among others that may (wrongly) share its state dir and boot: see Hello.agent_instance. */
const AGENT_INSTANCE = randomUUID();

type Stream = grpc.ClientDuplexStream<ConnectRequest, ConnectResponse>;

export class AgentConnection {
  private client: grpc.Client | undefined;
  /** What the current client was made with: a new certificate means a new channel. */
  private clientMadeWith = "";
  /** Whether the current stream runs over TLS (then registration pins the CA). */
  private overTls = false;
  private stream: Stream | undefined;
  private registered = false;
  /** Starts a new round once the registered stream has stayed up SETTLED_MS (onRegistered). */
  private settling: NodeJS.Timeout | undefined;
  /** What is in flight on the current stream, and how often the oldest of it failed to get through. */
  private readonly delivery: Delivery;
  /** Seqs written on the last stream and not acknowledged when it ended, oldest first. */
  private unackedAtEnd: bigint[] = [];
  /** Why we ended the current stream ourselves, if we did. */
  private endedBecause: string | undefined;
  /** The health last sent, as JSON: a change is sent at once, not at the next heartbeat. */
  private healthSent = "";
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly backoff = new Backoff();
  /** Which coordinator the agent dials, and how the last streams went (coordinator-choice.ts). */
  private choice: CoordinatorChoice = FIRST_CHOICE;
  private wake: (() => void) | undefined;
  /** Every event goes out within the size limit; one refused for its size goes again as an error result. */
  private readonly sizes: SizeRefusals;

  constructor(private readonly opts: ConnectionOptions) {
    if (!opts.addresses.length) throw new FleetgateError("bad_input", "no coordinator address; pass --coordinator HOST:PORT");
    this.sizes = new SizeRefusals(opts.log);
    this.delivery = new Delivery(opts.spool, opts.log, { ...DEFAULT_LIMITS, ...opts.delivery });
  }

  /** The coordinator the agent is dialling, or registered with: host:port as its operator gave it. */
  get address(): string {
    return this.opts.addresses[this.choice.index]!;
  }

  /** Runs until stop(); rejects only when the coordinator refuses our credentials for good. */
  async run(): Promise<void> {
    while (!this.stopped) {
      const error = await this.session();
      if (this.stopped) break;
      this.sizes.streamEnded(error, this.unackedAtEnd);
      if (error?.code === grpc.status.UNAUTHENTICATED) {
        if (this.opts.credentials.forgetNodeToken()) {
          this.opts.log.warn({ coordinator: this.address }, "node token refused; enrolling again with the enrollment token");
          continue;
        }
        throw FleetgateError.from(error, "unauthenticated", `coordinator at ${this.address} refused this agent: ${error.details}`);
      }
      const waitAtLeast = retryAfterMs(error);
      let delay: number;
      if (error?.code === grpc.status.FAILED_PRECONDITION || waitAtLeast !== undefined) {
        // About this agent, not about which coordinator is active: the same one is asked again,
        // never sooner than a rate limit's hint. Another coordinator would be a standby anyway.
        delay = Math.max(this.backoff.next(), waitAtLeast ?? 0);
        if (error?.code === grpc.status.FAILED_PRECONDITION) {
          // Refused until someone acts elsewhere: a protocol the coordinator does not serve (install
          // the release it names, or upgrade the coordinator), or another machine holding the name
          // (coord nodes replace). Said as an error, and asked again at the coordinator's pace: an
          // upgraded coordinator takes this agent without touching the node.
          this.opts.log.error({ retryInMs: delay }, `coordinator at ${this.address} refuses this agent: ${error.details}`);
        } else this.opts.log.warn({ coordinator: this.address, retryInMs: delay, err: error?.details }, "not connected to coordinator; retrying");
      } else {
        const from = this.address;
        const hint = activeCoordinatorHint(error);
        const next = afterFailure(this.opts.addresses, this.choice, hint);
        this.choice = next.choice;
        delay = next.backoff ? this.backoff.next() : 0;
        this.logMove(from, hint, next, delay, error);
      }
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

  /** One line per move between coordinators: why the agent left `from`, and where it goes. */
  private logMove(from: string, hint: string | undefined, next: NextCoordinator, delay: number, error: grpc.ServiceError | undefined): void {
    const log = this.opts.log;
    const to = this.address;
    const fields = { coordinator: from, next: to, retryInMs: delay, err: error?.details };
    if (next.move === "followed" && !next.backoff) {
      log.info({ coordinator: from, next: to }, `coordinator ${from} is a standby; moving to the active one at ${to}`);
    } else if (next.move === "followed") {
      log.warn(fields, `coordinator ${from} is a standby too and names ${to} as active: the coordinators do not agree yet on which one is (a failover under way?); trying ${to} after the backoff`);
    } else if (next.move === "not-listed") {
      log.warn(fields, `coordinator ${from} is a standby; it names ${hint} as the active one, which is not among this agent's coordinators (--coordinator, coordinator: in agent.yaml), so the agent does not go there; trying ${to}. Add ${hint} to the list if it is one of yours`);
    } else if (next.move === "self") {
      log.warn(fields, `coordinator ${from} is a standby and names itself as the active one; trying ${to}`);
    } else {
      // In plaintext, a coordinator serving TLS just drops the connection: say what would fix it.
      const tlsHint = this.overTls || this.opts.insecure ? undefined : "connecting in plaintext (no --ca): a coordinator serving TLS needs its STATE_DIR/tls/ca.crt as --ca";
      log.warn({ ...fields, hint: tlsHint }, "not connected to coordinator; retrying");
    }
  }

  stop(): void {
    this.stopped = true;
    this.stream?.cancel();
    this.wake?.();
    this.client?.close();
  }

  /** The channel for the next stream: TLS with the CA and certificate held now, or plaintext where allowed. */
  private channel(): grpc.Client {
    const insecure = this.opts.insecure ?? false;
    const tls = insecure ? undefined : this.opts.tls?.channel();
    const address = this.address;
    // One channel, to the coordinator dialled now: moving to another closes the old one.
    const madeWith = JSON.stringify([address, insecure, tls?.caPem ?? "", tls?.client?.certPem ?? ""]);
    if (!this.client || madeWith !== this.clientMadeWith) {
      const credentials = channelCredentials(address, tls, { insecure, caFlag: "--ca" });
      this.client?.close();
      this.client = new grpc.Client(address, credentials, CHANNEL_OPTIONS);
      this.clientMadeWith = madeWith;
    }
    this.overTls = tls !== undefined;
    return this.client;
  }

  /**
   * Sends spooled events not yet written on this stream, as many as the delivery window allows
   * (the rest follow as acks come back). Called whenever the spool grows and on every ack.
   */
  flush(): void {
    const stream = this.stream;
    if (!stream || !this.registered) return;
    // Written before sending: the burst is made durable first, with one fsync.
    this.opts.spool.sync();
    this.sendHealthIfChanged(stream);
    for (const event of this.delivery.next()) stream.write(create(ConnectRequestSchema, { msg: { case: "event", value: this.sizes.wire(event) } }));
  }

  private heartbeatRequest(): ConnectRequest {
    const health = this.opts.health?.();
    this.healthSent = JSON.stringify(health ?? {});
    return create(ConnectRequestSchema, { msg: { case: "heartbeat", value: { sentAtMs: BigInt(Date.now()), health } } });
  }

  /** A node that became degraded (or recovered) tells the coordinator now, not at the next heartbeat. */
  private sendHealthIfChanged(stream: Stream): void {
    if (JSON.stringify(this.opts.health?.() ?? {}) !== this.healthSent) stream.write(this.heartbeatRequest());
  }

  /** One stream's life; resolves with the error that ended it. */
  private session(): Promise<grpc.ServiceError | undefined> {
    const credential = this.opts.credentials.current();
    if (!credential) throw new FleetgateError("bad_input", "no token: pass --token (from `coord token create`) or set FLEETGATE_TOKEN");
    const client = this.channel();
    return new Promise((resolve) => {
      const stream = callBidiStream(client, AgentService, AgentService.method.connect);
      this.stream = stream;
      this.registered = false;
      this.delivery.newStream();
      this.endedBecause = undefined;
      const timer = setTimeout(() => stream.cancel(), this.opts.registerTimeoutMs ?? 15_000);
      let ended = false;
      const end = (err?: grpc.ServiceError) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        clearTimeout(this.settling);
        clearInterval(this.heartbeat);
        // Events in flight failed to get through once more (the poison rule counts it), unless we are stopping.
        const counted = this.registered && !this.stopped;
        this.unackedAtEnd = counted ? this.delivery.ended(this.endedBecause ?? err?.details ?? "the coordinator ended the stream") : [];
        if (!counted) this.delivery.newStream();
        if (this.registered) this.opts.observer?.streamEnded(this.unackedAtEnd.length);
        this.registered = false;
        this.stream = undefined;
        resolve(err);
      };
      stream.on("data", (res: ConnectResponse) => {
        if (res.msg.case === "registered") {
          clearTimeout(timer);
          this.onRegistered(stream, res.msg.value);
        } else if (res.msg.case === "task") this.opts.onTask(res.msg.value);
        else if (res.msg.case === "ack") {
          for (const seq of [res.msg.value.seq, ...res.msg.value.moreSeqs]) {
            this.opts.spool.ack(seq);
            this.delivery.acked(seq);
          }
          this.flush();
        }
        else if (res.msg.case === "cancel") this.opts.onCancel?.(res.msg.value.taskId);
        else if (res.msg.case === "certificate") this.keepCertificate(res.msg.value.certPem, "renewed");
      });
      stream.on("error", (err: grpc.ServiceError) => end(err));
      stream.on("end", () => end(undefined));
      stream.write(
        create(ConnectRequestSchema, {
          msg: {
            case: "hello",
            value: {
              credential: { case: credential.case, value: credential.value },
              identity: this.opts.identity,
              health: this.opts.health?.(),
              publicKeyPem: this.opts.tls?.publicKeyPem ?? "",
              agentInstance: AGENT_INSTANCE,
              protocolVersion: PROTOCOL_VERSION,
              takesAckBatches: true,
              // Enrolling: the secret that lets this agent enroll again if the reply is lost.
              enrollmentSecret: credential.case === "enrollToken" ? this.opts.credentials.enrollmentSecret() : "",
            },
          },
        }),
      );
    });
  }

  /** A certificate the coordinator issued: used from the next connection on. */
  private keepCertificate(certPem: string, how: string): void {
    try {
      this.opts.tls?.saveCertificate(certPem);
      this.opts.log.info(`client certificate ${how}`);
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, "cannot save the client certificate in the state dir; kept in memory until the agent restarts");
    }
  }

  private onRegistered(stream: Stream, reg: Registered): void {
    this.registered = true;
    // A stream that stays up a moment starts a new round and a new backoff. One dropped at once —
    // a coordinator with its store down, or losing the lead, behind a standby that keeps naming
    // it — counts as a failed dial, so the agent never loops between them without a backoff.
    clearTimeout(this.settling);
    this.settling = setTimeout(() => {
      if (this.stream !== stream) return;
      this.backoff.reset();
      this.choice = afterRegistration(this.choice);
    }, SETTLED_MS);
    this.settling.unref();
    if (this.overTls) {
      try {
        this.opts.tls?.registered();
      } catch (err) {
        this.opts.log.error({ err: (err as Error).message }, "cannot pin the coordinator's CA in the state dir");
      }
      if (reg.certificate) this.keepCertificate(reg.certificate.certPem, "issued");
    }
    if (reg.nodeToken) {
      try {
        this.opts.credentials.save(reg.nodeToken);
      } catch (err) {
        // Kept in memory: this run goes on; a restart needs the enrollment token again.
        this.opts.log.error({ err: (err as Error).message }, "cannot save the node token in the state dir; the agent needs its enrollment token again after a restart");
      }
    }
    // Number above everything committed; forget only the unbroken prefix (a gap is resent).
    this.opts.spool.raiseFloor(reg.highestCommittedSeq > reg.lastAckedSeq ? reg.highestCommittedSeq : reg.lastAckedSeq);
    // Everything up to the prefix was committed (and acked before the link dropped); drop it here too.
    this.opts.spool.ackThrough(reg.lastAckedSeq);
    this.opts.log.info({ node: reg.nodeName, coordinator: this.address, pending: this.opts.spool.pendingCount() }, "registered with coordinator");
    this.opts.observer?.registered(this.address);
    this.healthSent = JSON.stringify(this.opts.health?.() ?? {});
    const every = reg.heartbeatIntervalMs > 0 ? reg.heartbeatIntervalMs : 5000;
    const ackTimeoutMs = this.opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.heartbeat = setInterval(() => {
      stream.write(this.heartbeatRequest());
      const overdue = this.delivery.overdue(Date.now(), ackTimeoutMs);
      if (overdue === undefined) return;
      // No ack and no error: end the stream ourselves, so the event is sent again (and counted).
      this.endedBecause = `no acknowledgement of event ${overdue} within ${Math.round(ackTimeoutMs / 1000)} s`;
      this.opts.log.warn({ seq: overdue }, `${this.endedBecause}; reconnecting`);
      stream.cancel();
    }, every);
    this.flush();
  }
}
