// How the CLI reaches the coordinator: --coordinator / FLEETGATE_COORDINATOR, and an admin token
// from --token / FLEETGATE_TOKEN or STATE_DIR/admin.token. Several coordinators sharing a
// PostgreSQL store (issue 19) can be given as a list, "a:7400,b:7400": a call no coordinator took
// (nothing listening, or a standby's refusal) goes to the next one, or to the active one a standby
// names when it is in the list.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { DescMethodServerStreaming, DescMethodUnary } from "@bufbuild/protobuf";
import { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { CHANNEL_OPTIONS, MAX_MESSAGE_BYTES, callServerStream, callUnary } from "../../shared/grpc/adapter.js";
import { FleetgateError } from "../../shared/errors.js";
import { fromGrpcError } from "../../shared/grpc/status.js";
import { activeCoordinatorHint, refusedByStandby } from "../../shared/grpc/standby.js";
import { parseCoordinatorList } from "../../shared/coordinator-list.js";
import { ADMIN_TOKEN_FILE } from "../server/admin-token.js";
import { caCertPath } from "../tls/paths.js";
import { channelCredentials, type ChannelTls } from "../../shared/tls/channel.js";

export const DEFAULT_COORDINATOR = "127.0.0.1:7400";

export interface ConnectionFlags {
  coordinator?: string;
  token?: string;
  stateDir?: string;
  ca?: string;
  insecure?: boolean;
}

/** The CA to trust: --ca, FLEETGATE_CA, or the one in the coordinator's state dir; none means plaintext. */
export function resolveCa(flags: ConnectionFlags): ChannelTls | undefined {
  const named = flags.ca ?? process.env.FLEETGATE_CA;
  const stateDir = flags.stateDir ?? process.env.FLEETGATE_STATE_DIR;
  const file = named ?? (stateDir && existsSync(caCertPath(stateDir)) ? caCertPath(stateDir) : undefined);
  if (!file) return undefined;
  try {
    return { caPem: readFileSync(file, "utf8") };
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `cannot read CA certificate ${file}: ${(err as NodeJS.ErrnoException).code}; pass the coordinator's STATE_DIR/tls/ca.crt with --ca`);
  }
}

export function resolveAdminToken(flags: ConnectionFlags): string {
  const direct = flags.token ?? process.env.FLEETGATE_TOKEN;
  if (direct) return direct;
  const stateDir = flags.stateDir ?? process.env.FLEETGATE_STATE_DIR;
  if (stateDir) {
    const file = join(stateDir, ADMIN_TOKEN_FILE);
    try {
      return readFileSync(file, "utf8").trim();
    } catch (err) {
      throw FleetgateError.from(err, "bad_input", `cannot read admin token ${file}: ${(err as NodeJS.ErrnoException).code}; is this the coordinator's --state-dir?`);
    }
  }
  throw new FleetgateError("bad_input", "no admin token: pass --token, set FLEETGATE_TOKEN, or pass --state-dir of the coordinator (it holds admin.token)");
}

/** The coordinators the CLI is given (--coordinator, FLEETGATE_COORDINATOR, or the default), in order; bad_input naming a bad entry. */
export function coordinatorList(flags: Pick<ConnectionFlags, "coordinator">): string[] {
  const given = flags.coordinator ?? process.env.FLEETGATE_COORDINATOR ?? DEFAULT_COORDINATOR;
  try {
    return parseCoordinatorList(given);
  } catch (err) {
    throw new FleetgateError("bad_input", `--coordinator ${JSON.stringify(given)}: ${(err as Error).message}`);
  }
}

/**
 * Whether a failed call certainly never ran on the coordinator: a standby refused it, or no
 * connection was made. Only such a call is sent to the next coordinator; one that may have run
 * (a connection dropped mid-call, a deadline) is not sent again anywhere.
 */
export function neverRan(err: unknown): boolean {
  const e = err as Partial<grpc.ServiceError>;
  if (e.code !== grpc.status.UNAVAILABLE) return false;
  return refusedByStandby(e) || /No connection established|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/.test(e.details ?? e.message ?? "");
}

export class ControlClient {
  private readonly addresses: string[];
  private current = 0;
  private client: grpc.Client;
  private readonly metadata = new grpc.Metadata();
  private readonly tls: ChannelTls | undefined;
  private readonly insecure: boolean;
  /** Said when the coordinator cannot be reached in plaintext: it may be serving TLS. */
  private readonly plaintextHint: string;

  constructor(flags: ConnectionFlags) {
    this.addresses = coordinatorList(flags);
    this.metadata.set("authorization", `Bearer ${resolveAdminToken(flags)}`);
    this.insecure = flags.insecure ?? process.env.FLEETGATE_INSECURE === "1";
    this.tls = this.insecure ? undefined : resolveCa(flags);
    this.plaintextHint = this.insecure || this.tls ? "" : "; this CLI spoke plaintext (no CA): a coordinator serving TLS needs --ca FILE (its STATE_DIR/tls/ca.crt) or --state-dir";
    this.client = this.dial();
  }

  /** The coordinator the next call goes to. */
  get address(): string {
    return this.addresses[this.current]!;
  }

  async call<I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>, req: MessageInitShape<I>): Promise<MessageShape<O>> {
    // Each coordinator of the list once at most.
    for (let tried = 1; ; tried++) {
      try {
        return await callUnary(this.client, ControlService, method, req, { metadata: this.metadata, deadlineMs: 10_000 });
      } catch (err) {
        const failed = this.explained(fromGrpcError(err, this.address));
        if (tried >= this.addresses.length || !neverRan(err)) throw failed;
        this.moveOn(err);
      }
    }
  }

  /**
   * A stream no coordinator took (nothing received, and it certainly never ran) is opened with
   * the next coordinator, each once at most; one that ends later for its coordinator going away
   * leaves the next call (rewatch opens the watch again) with the next coordinator.
   */
  stream<I extends DescMessage, O extends DescMessage>(method: DescMethodServerStreaming<I, O>, req: MessageInitShape<I>): AsyncIterable<MessageShape<O>> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        for (let tried = 1; ; tried++) {
          const address = self.address;
          const call = callServerStream(self.client, ControlService, method, req, { metadata: self.metadata });
          let received = false;
          try {
            for await (const msg of call) {
              received = true;
              yield msg as MessageShape<O>;
            }
            return;
          } catch (err) {
            const failed = self.explained(fromGrpcError(err, address));
            // Its coordinator went away or refused it: whatever opens it next goes to the next one.
            if (self.addresses.length > 1 && (err as grpc.ServiceError).code === grpc.status.UNAVAILABLE && address === self.address) self.moveOn(err);
            if (received || tried >= self.addresses.length || !neverRan(err)) throw failed;
          }
        }
      },
    };
  }

  /** To the active coordinator a standby named, when it is in the list; else the next one. */
  private moveOn(err: unknown): void {
    const hint = activeCoordinatorHint({ metadata: (err as grpc.ServiceError).metadata });
    const named = hint === undefined ? -1 : this.addresses.indexOf(hint);
    this.current = named >= 0 && named !== this.current ? named : (this.current + 1) % this.addresses.length;
    this.client.close();
    this.client = this.dial();
  }

  private dial(): grpc.Client {
    return new grpc.Client(this.address, channelCredentials(this.address, this.tls, { insecure: this.insecure, caFlag: "--ca" }), {
      ...CHANNEL_OPTIONS,
      // Fail fast when nothing listens, rather than retrying quietly for the whole deadline.
      "grpc.enable_retries": 0,
      // Room for two whole messages in flight. HTTP/2's default 64 KiB window let a coordinator busy
      // with 1,000 agents send one window a turn of its event loop: a watch batch of 1 MB took 2.3 s.
      "grpc-node.flow_control_window": 2 * MAX_MESSAGE_BYTES,
    });
  }

  private explained(err: FleetgateError): FleetgateError {
    if (err.code !== "unreachable" || !this.plaintextHint) return err;
    return new FleetgateError("unreachable", `${err.message}${this.plaintextHint}`, undefined, { cause: err });
  }

  close(): void {
    this.client.close();
  }
}
