// A hostile client for a real coordinator on loopback: raw bytes on its port, gRPC calls with
// forged credentials or oversize messages, agent streams that never say hello, and a scripted
// "agent" that says exactly what a test tells it to. @grpc/grpc-js directly, no fleetgate client
// code, so nothing here is polite by accident.
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { AgentEventSchema, AgentService, ConnectRequestSchema, type ConnectRequest, type ConnectResponse, type Task } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { CHANNEL_OPTIONS, callBidiStream } from "../../shared/grpc/adapter.js";
import { PROTOCOL_VERSION } from "../../shared/protocol.js";

export interface Target {
  address: string;
  stateDir: string;
}

/** The coordinator's CA, when it serves TLS (STATE_DIR/tls/ca.crt); plaintext otherwise. */
function caOf(t: Target): Buffer | undefined {
  const file = join(t.stateDir, "tls", "ca.crt");
  return existsSync(file) ? readFileSync(file) : undefined;
}

export function servesTls(t: Target): boolean {
  return caOf(t) !== undefined;
}

/** A raw grpc-js client; `options` override the limits every fleetgate client keeps (e.g. to send 100 MB). */
export function hostileClient(t: Target, options: grpc.ChannelOptions = {}): grpc.Client {
  const ca = caOf(t);
  return new grpc.Client(t.address, ca ? grpc.credentials.createSsl(ca) : grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, "grpc.enable_retries": 0, ...options });
}

/**
 * Writes `bytes` on a plain TCP connection to the coordinator's port and resolves once the
 * coordinator closed it (true), or false if it was still open after `timeoutMs`.
 */
export function sendRaw(t: Target, bytes: Buffer, timeoutMs = 10_000): Promise<boolean> {
  const colon = t.address.lastIndexOf(":");
  return new Promise((resolve) => {
    const socket = connect(Number(t.address.slice(colon + 1)), t.address.slice(0, colon), () => socket.write(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Sends one message of `bytes` (already framed as the method's request, or garbage) on `path`; resolves with the call's error. */
export function sendOversize(client: grpc.Client, path: string, bytes: Buffer, stream: boolean): Promise<grpc.ServiceError> {
  const id = (b: Buffer) => b;
  return new Promise((resolve) => {
    if (!stream) {
      client.makeUnaryRequest(path, id, id, bytes, (err) => resolve(err as grpc.ServiceError));
      return;
    }
    const call = client.makeBidiStreamRequest(path, id, id);
    call.on("data", () => undefined);
    call.on("error", resolve);
    call.write(bytes);
  });
}

export const newMachineId = (): string => randomBytes(16).toString("hex");

export interface HelloOptions {
  name: string;
  machineId?: string;
  enrollToken?: string;
  nodeToken?: string;
  labels?: Record<string, string>;
  /** Over TLS an agent sends the public key its certificate is to be issued for. */
  tls?: boolean;
  /** Hello.protocol_version; default: this release's (PROTOCOL_VERSION). */
  protocolVersion?: number;
  /** NodeIdentity.agent_version; default: none sent. */
  agentVersion?: string;
  /** Hello.enrollment_secret; default: none sent. */
  enrollmentSecret?: string;
  /** Hello.takes_ack_batches; default: false, as agents from before it. */
  takesAckBatches?: boolean;
}

let keyPem: string | undefined;
/** One RSA key (what agents use) for every scripted hello: a hostile client may well reuse one. */
function publicKeyPem(): string {
  keyPem ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString();
  return keyPem;
}

export function helloRequest(o: HelloOptions): ConnectRequest {
  const credential = o.nodeToken !== undefined ? { case: "nodeToken" as const, value: o.nodeToken } : { case: "enrollToken" as const, value: o.enrollToken ?? "" };
  const key = o.tls ? { publicKeyPem: publicKeyPem() } : {};
  const identity = { name: o.name, machineId: o.machineId ?? newMachineId(), bootId: randomUUID(), hostname: `hostile-${o.name}`, labels: o.labels ?? {}, agentVersion: o.agentVersion ?? "" };
  const protocolVersion = o.protocolVersion ?? PROTOCOL_VERSION;
  return create(ConnectRequestSchema, { msg: { case: "hello", value: { credential, identity, protocolVersion, enrollmentSecret: o.enrollmentSecret ?? "", takesAckBatches: o.takesAckBatches ?? false, ...key } } } as MessageInitShape<typeof ConnectRequestSchema>);
}

/** An agent stream the test drives by hand: what came back, and how the stream ended. */
export class ScriptedAgent {
  readonly responses: ConnectResponse[] = [];
  readonly ended: Promise<grpc.ServiceError | undefined>;
  private readonly stream: grpc.ClientDuplexStream<ConnectRequest, ConnectResponse>;
  private heartbeat: NodeJS.Timeout | undefined;
  private seq = 0n;

  constructor(client: grpc.Client, readonly hello?: ConnectRequest) {
    this.stream = callBidiStream(client, AgentService, AgentService.method.connect);
    this.stream.on("data", (res: ConnectResponse) => this.responses.push(res));
    this.ended = new Promise((resolve) => {
      this.stream.on("error", (err: grpc.ServiceError) => resolve(err));
      this.stream.on("end", () => resolve(undefined));
    });
    void this.ended.then(() => clearInterval(this.heartbeat));
    if (hello) this.stream.write(hello);
  }

  /** Resolves once registered (then heartbeats every `everyMs`, so the coordinator keeps it), or rejects with the refusal. */
  async registered(everyMs = 2_000): Promise<void> {
    const settled = await Promise.race([this.ended, this.until((r) => r.msg.case === "registered")]);
    if (settled === undefined || "code" in settled) throw Object.assign(new Error(`refused: ${settled?.details ?? "stream ended"}`), { status: settled });
    this.heartbeat = setInterval(() => this.stream.write(create(ConnectRequestSchema, { msg: { case: "heartbeat", value: { sentAtMs: BigInt(Date.now()) } } })), everyMs);
  }

  /** The first response matching `match`, waiting for it at most `timeoutMs`. */
  async until(match: (r: ConnectResponse) => boolean, timeoutMs = 20_000): Promise<ConnectResponse> {
    for (const until = Date.now() + timeoutMs; ; ) {
      const found = this.responses.find(match);
      if (found) return found;
      if (Date.now() > until) throw new Error(`no such response within ${timeoutMs} ms; got: ${this.responses.map((r) => r.msg.case).join(", ")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async task(): Promise<Task> {
    const r = await this.until((x) => x.msg.case === "task");
    return r.msg.value as Task;
  }

  /** Sends an event numbered after the last one this stream sent; resolves with its seq. */
  send(event: Pick<MessageInitShape<typeof AgentEventSchema>, "origin" | "body">): bigint {
    this.seq += 1n;
    this.stream.write(create(ConnectRequestSchema, { msg: { case: "event", value: create(AgentEventSchema, { ...event, seq: this.seq }) } }));
    return this.seq;
  }

  async acked(seq: bigint): Promise<void> {
    await this.until((r) => r.msg.case === "ack" && [r.msg.value.seq, ...r.msg.value.moreSeqs].includes(seq));
  }

  /** Every Ack received: the seqs each acknowledged, in order. */
  acks(): bigint[][] {
    return this.responses.flatMap((r) => (r.msg.case === "ack" ? [[r.msg.value.seq, ...r.msg.value.moreSeqs]] : []));
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.stream.cancel();
  }
}
