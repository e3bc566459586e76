// Refusals no handler sees, counted in the refusal log: control calls refused for their token or
// role (an interceptor reads the status every ControlService call ends with, whichever handler
// sent it), and what grpc-js and node refuse below the handlers: bytes that are not HTTP/2, a
// failed TLS handshake, a message over the size limit (grpc-js ends that call itself).
import type { EventEmitter } from "node:events";
import type { ServerHttp2Session, ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../shared/logging.js";
import { peerAddress } from "../fleet/sessions.js";
import { hashToken, tokenId } from "../store/tokens.js";
import type { RefusalKind, RefusalLog } from "./refusals.js";

const CONTROL_PREFIX = "/fleetgate.v1.ControlService/";

const CONTROL_KINDS: Partial<Record<grpc.status, RefusalKind>> = {
  [grpc.status.UNAUTHENTICATED]: "unauthenticated",
  [grpc.status.PERMISSION_DENIED]: "permission_denied",
};

/** Counts every ControlService call that ends UNAUTHENTICATED or PERMISSION_DENIED; claimed: the presented token's id, never the token. */
export function controlRefusals(refusals: RefusalLog): grpc.ServerInterceptor {
  return (method, call) => {
    if (!method.path.startsWith(CONTROL_PREFIX)) return new grpc.ServerInterceptingCall(call);
    let token = "";
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, pass) => {
            token = String(metadata.get("authorization")[0] ?? "").replace(/^Bearer\s+/i, "");
            pass(metadata);
          },
        }),
      sendStatus: (status, pass) => {
        const kind = CONTROL_KINDS[status.code];
        if (kind) {
          refusals.record({
            kind,
            code: grpc.status[status.code],
            peer: peerAddress(call.getPeer()),
            claimed: token ? `token ${tokenId(hashToken(token))}` : "",
            message: `${method.path.slice(CONTROL_PREFIX.length)}: ${status.details}`,
            // authorize() logged it, naming the person, their role and the role needed.
            logged: true,
          });
        }
        pass(status);
      },
    });
  };
}

/** grpc-js's own words when it refuses a message for its size (StreamDecoder, decompression). */
const TOO_LARGE = /^Received message (larger than max|that decompresses to a size larger than)/;

function sentStatus(stream: ServerHttp2Stream): { code: number; message: string } | undefined {
  const headers = stream.sentTrailers ?? stream.sentHeaders;
  const code = headers?.["grpc-status"];
  if (code === undefined) return undefined;
  let message = String(headers?.["grpc-message"] ?? "");
  try {
    message = decodeURIComponent(message);
  } catch {
    // grpc-js percent-encodes the message; one it did not is shown as it came.
  }
  return { code: Number(code), message };
}

/**
 * Watches the HTTP/2 servers grpc-js listens with, after bindAsync. grpc-js does not expose them,
 * so this reads its private `http2Servers` map; if a grpc-js upgrade renames it, nothing breaks but
 * these three kinds go uncounted, which the warning says (and test/e2e/hostile-clients.test.ts fails).
 */
export function watchWire(server: grpc.Server, refusals: RefusalLog, log: Logger): void {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) {
    log.warn("cannot watch the HTTP/2 layer of this grpc-js: garbage, failed TLS handshakes and oversize messages are refused but not counted");
    return;
  }
  for (const http2 of servers.keys() as IterableIterator<EventEmitter>) {
    // Node reports bytes that are not HTTP/2 as a session error; a reset connection is no refusal.
    http2.on("sessionError", (err: NodeJS.ErrnoException, session?: ServerHttp2Session) => {
      if (err.code === "ECONNRESET" || err.code === "EPIPE") return;
      refusals.record({ kind: "not_http2", code: "closed", peer: session?.socket?.remoteAddress ?? "", claimed: "", message: `not HTTP/2: ${err.message}` });
    });
    http2.on("tlsClientError", (err: NodeJS.ErrnoException, socket?: Socket) => {
      if (err.code === "ECONNRESET" || err.code === "EPIPE") return;
      refusals.record({ kind: "bad_tls", code: "closed", peer: socket?.remoteAddress ?? "", claimed: "", message: `TLS handshake failed: ${err.message}` });
    });
    http2.on("stream", (stream: ServerHttp2Stream, headers: Record<string, string | string[] | undefined>) => {
      // Taken now: by the time the stream closes its session may be gone.
      const peer = stream.session?.socket?.remoteAddress ?? "";
      stream.once("close", () => {
        const sent = sentStatus(stream);
        if (sent?.code !== grpc.status.RESOURCE_EXHAUSTED || !TOO_LARGE.test(sent.message)) return;
        refusals.record({ kind: "too_large", code: "RESOURCE_EXHAUSTED", peer, claimed: "", message: `${String(headers[":path"] ?? "")}: ${sent.message}` });
      });
    });
  }
}
