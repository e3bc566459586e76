// grpc-js service definitions derived from the descriptors protoc-gen-es generates, so the
// .proto files stay the only source of truth and no second code generator is needed.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { DescMethodBiDiStreaming, DescMethodServerStreaming, DescMethodUnary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { MAX_GRPC_MESSAGE_BYTES } from "../model/limits.js";

/** Refuse messages above this size on both ends (DESIGN rule 5); the limits live in shared/model/limits.ts. */
export const MAX_MESSAGE_BYTES = MAX_GRPC_MESSAGE_BYTES;

/**
 * The coordinator's server and every client (agent, CLI) take these: what a client may send is
 * exactly what the coordinator receives, so an oversize message is refused where it is written,
 * by the agent that can cut it, and an agent keeps its events under MAX_AGENT_EVENT_BYTES anyway.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_GRPC_MESSAGE_BYTES,
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
};

/**
 * A request whose bytes are not its method's message (random bytes, a truncated message, a
 * wire type that does not match the field). A server's deserializer returns it instead of
 * throwing, because grpc-js answers a throwing deserializer with INTERNAL, which says the
 * coordinator broke; coordinator/server/undecodable.ts answers it with INVALID_ARGUMENT.
 */
export class UndecodableRequest {
  constructor(
    readonly typeName: string,
    readonly reason: string,
  ) {}
}

function methodDefinition(service: DescService, m: DescMethod, server = false): grpc.MethodDefinition<unknown, unknown> {
  const streamsIn = m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming";
  const streamsOut = m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming";
  return {
    path: methodPath(service, m),
    requestStream: streamsIn,
    responseStream: streamsOut,
    requestSerialize: (msg) => Buffer.from(toBinary(m.input, msg as MessageShape<DescMessage>)),
    requestDeserialize: server ? (buf) => decodeRequest(m.input, buf) : (buf) => fromBinary(m.input, buf),
    responseSerialize: (msg) => Buffer.from(toBinary(m.output, msg as MessageShape<DescMessage>)),
    responseDeserialize: (buf) => fromBinary(m.output, buf),
    originalName: m.localName,
  };
}

function methodPath(service: DescService, m: DescMethod): string {
  return `/${service.typeName}/${m.name}`;
}

function decodeRequest(input: DescMessage, buf: Buffer): unknown {
  try {
    return fromBinary(input, buf);
  } catch (err) {
    return new UndecodableRequest(input.typeName, err instanceof Error ? err.message : String(err));
  }
}

/**
 * A grpc-js ServiceDefinition keyed by each method's localName (e.g. `listNodes`). With
 * `server`, a request that does not decode reaches the interceptors as an UndecodableRequest.
 */
export function serviceDefinition(service: DescService, opts: { server?: boolean } = {}): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methods) def[m.localName] = methodDefinition(service, m, opts.server);
  return def as grpc.ServiceDefinition;
}

export interface CallOptions {
  metadata?: grpc.Metadata;
  deadlineMs?: number;
}

function deadline(opts: CallOptions): grpc.CallOptions {
  return opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {};
}

export function callUnary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  service: DescService,
  method: DescMethodUnary<I, O>,
  request: MessageInitShape<I>,
  opts: CallOptions = {},
): Promise<MessageShape<O>> {
  const def = methodDefinition(service, method);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize as (b: Buffer) => MessageShape<O>,
      create(method.input, request),
      opts.metadata ?? new grpc.Metadata(),
      deadline(opts),
      (err, res) => (err || !res ? reject(err ?? new Error("empty response")) : resolve(res)),
    );
  });
}

export function callServerStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  service: DescService,
  method: DescMethodServerStreaming<I, O>,
  request: MessageInitShape<I>,
  opts: CallOptions = {},
): grpc.ClientReadableStream<MessageShape<O>> {
  const def = methodDefinition(service, method);
  return client.makeServerStreamRequest(
    def.path,
    def.requestSerialize,
    def.responseDeserialize as (b: Buffer) => MessageShape<O>,
    create(method.input, request),
    opts.metadata ?? new grpc.Metadata(),
    deadline(opts),
  );
}

export function callBidiStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  service: DescService,
  method: DescMethodBiDiStreaming<I, O>,
  opts: CallOptions = {},
): grpc.ClientDuplexStream<MessageShape<I>, MessageShape<O>> {
  const def = methodDefinition(service, method);
  return client.makeBidiStreamRequest(
    def.path,
    def.requestSerialize,
    def.responseDeserialize as (b: Buffer) => MessageShape<O>,
    opts.metadata ?? new grpc.Metadata(),
    deadline(opts),
  );
}
