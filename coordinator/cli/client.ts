// How the CLI reaches the coordinator: --coordinator / FLEETGATE_COORDINATOR, and an admin token
// from --token / FLEETGATE_TOKEN or STATE_DIR/admin.token.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { DescMethodServerStreaming, DescMethodUnary } from "@bufbuild/protobuf";
import { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { CHANNEL_OPTIONS, callServerStream, callUnary } from "../../shared/grpc/adapter.js";
import { FleetgateError } from "../../shared/errors.js";
import { fromGrpcError } from "../../shared/grpc/status.js";
import { ADMIN_TOKEN_FILE } from "../server/serve.js";
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

export class ControlClient {
  readonly address: string;
  private readonly client: grpc.Client;
  private readonly metadata = new grpc.Metadata();
  /** Said when the coordinator cannot be reached in plaintext: it may be serving TLS. */
  private readonly plaintextHint: string;

  constructor(flags: ConnectionFlags) {
    this.address = flags.coordinator ?? process.env.FLEETGATE_COORDINATOR ?? DEFAULT_COORDINATOR;
    this.metadata.set("authorization", `Bearer ${resolveAdminToken(flags)}`);
    const insecure = flags.insecure ?? process.env.FLEETGATE_INSECURE === "1";
    const tls = insecure ? undefined : resolveCa(flags);
    this.plaintextHint = insecure || tls ? "" : "; this CLI spoke plaintext (no CA): a coordinator serving TLS needs --ca FILE (its STATE_DIR/tls/ca.crt) or --state-dir";
    this.client = new grpc.Client(this.address, channelCredentials(this.address, tls, { insecure, caFlag: "--ca" }), {
      ...CHANNEL_OPTIONS,
      // Fail fast when nothing listens, rather than retrying quietly for the whole deadline.
      "grpc.enable_retries": 0,
    });
  }

  async call<I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>, req: MessageInitShape<I>): Promise<MessageShape<O>> {
    try {
      return await callUnary(this.client, ControlService, method, req, { metadata: this.metadata, deadlineMs: 10_000 });
    } catch (err) {
      throw this.explained(fromGrpcError(err, this.address));
    }
  }

  stream<I extends DescMessage, O extends DescMessage>(method: DescMethodServerStreaming<I, O>, req: MessageInitShape<I>): AsyncIterable<MessageShape<O>> {
    const call = callServerStream(this.client, ControlService, method, req, { metadata: this.metadata });
    const address = this.address;
    const explained = (e: FleetgateError) => this.explained(e);
    return {
      async *[Symbol.asyncIterator]() {
        try {
          for await (const msg of call) yield msg as MessageShape<O>;
        } catch (err) {
          throw explained(fromGrpcError(err, address));
        }
      },
    };
  }

  private explained(err: FleetgateError): FleetgateError {
    if (err.code !== "unreachable" || !this.plaintextHint) return err;
    return new FleetgateError("unreachable", `${err.message}${this.plaintextHint}`, undefined, { cause: err });
  }

  close(): void {
    this.client.close();
  }
}
