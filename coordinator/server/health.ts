// The standard gRPC health service, so load balancers and `grpc_health_probe` can ask.
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { HealthCheckResponse_ServingStatus as Serving, HealthCheckResponseSchema, type HealthCheckRequest, type HealthCheckResponse } from "../../shared/gen/grpc/health/v1/health_pb.js";

const KNOWN = new Set(["", "fleetgate.v1.AgentService", "fleetgate.v1.ControlService"]);

export function healthHandlers() {
  const status = (service: string) => (KNOWN.has(service) ? Serving.SERVING : Serving.SERVICE_UNKNOWN);
  return {
    check(call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: grpc.sendUnaryData<HealthCheckResponse>) {
      if (!KNOWN.has(call.request.service)) {
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` } as grpc.ServiceError);
        return;
      }
      callback(null, create(HealthCheckResponseSchema, { status: status(call.request.service) }));
    },
    watch(call: grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) {
      call.write(create(HealthCheckResponseSchema, { status: status(call.request.service) }));
    },
  };
}
