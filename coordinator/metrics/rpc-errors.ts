// Every gRPC call's final status, whichever layer sent it (a handler, the refusal interceptors,
// grpc-js itself through the call): a code other than OK is counted by method and code. The method
// label is bounded to the methods the coordinator serves, so a client inventing paths cannot grow
// the scrape.
import type { DescService } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

/** "/fleetgate.v1.AgentService/Connect" for each method of `services`. */
export function methodPaths(services: readonly DescService[]): Set<string> {
  return new Set(services.flatMap((s) => s.methods.map((m) => `/${s.typeName}/${m.name}`)));
}

export function rpcErrorCounter(known: ReadonlySet<string>, count: (method: string, code: string) => void): grpc.ServerInterceptor {
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      sendStatus: (status, pass) => {
        if (status.code !== grpc.status.OK) count(known.has(method.path) ? method.path : "unknown", grpc.status[status.code] ?? String(status.code));
        pass(status);
      },
    });
}
