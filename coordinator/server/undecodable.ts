// A request whose bytes are not its method's protobuf message is the client's mistake, so it is
// answered INVALID_ARGUMENT (grpc-js would say INTERNAL, as if the coordinator broke), counted as
// a refusal, and never reaches a handler: nothing is read, nothing is stored. On a stream
// (AgentService.Connect) the whole stream ends, as for any message out of protocol.
import * as grpc from "@grpc/grpc-js";
import { UndecodableRequest } from "../../shared/grpc/adapter.js";
import { peerAddress } from "../fleet/sessions.js";
import type { RefusalLog } from "./refusals.js";

export function undecodableRequests(refusals: RefusalLog): grpc.ServerInterceptor {
  return (method, call) => {
    let refused = false;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (message, pass) => {
            if (refused) return;
            if (!(message instanceof UndecodableRequest)) {
              pass(message);
              return;
            }
            refused = true;
            const details = `${method.path}: the request is not a ${message.typeName} message (${message.reason}); nothing was done`;
            refusals.record({ kind: "undecodable", code: "INVALID_ARGUMENT", peer: peerAddress(call.getPeer()), claimed: "", message: details });
            call.sendStatus({ code: grpc.status.INVALID_ARGUMENT, details, metadata: new grpc.Metadata() });
          },
          // A unary call whose one message was refused must not go on to its handler.
          onReceiveHalfClose: (pass) => {
            if (!refused) pass();
          },
        }),
    });
  };
}
