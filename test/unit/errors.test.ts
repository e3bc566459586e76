import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { reportFailure } from "../../shared/cli-exit.js";
import { EXIT_CODE, FleetgateError, type ErrorCode } from "../../shared/errors.js";
import { fromGrpcError, retryAfterMs, toGrpcError } from "../../shared/grpc/status.js";

const CODES: ErrorCode[] = ["bad_input", "unauthenticated", "permission_denied", "not_found", "unreachable", "conflict", "exhausted", "internal"];
const ADDRESS = "127.0.0.1:7400";

/** What a failed grpc-js call rejects with. */
function serviceError(code: GrpcStatus, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${GrpcStatus[code]}: ${details}`), { code, details, metadata: undefined as never });
}

describe("FleetgateError.from", () => {
  it("keeps a foreign error as the cause, with the fallback code and the error's own message", () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/etc/machine-id'"), { code: "ENOENT" });
    const ours = FleetgateError.from(enoent, "bad_input");
    expect(ours).toBeInstanceOf(FleetgateError);
    expect(ours.code).toBe("bad_input");
    expect(ours.message).toBe("ENOENT: no such file or directory, open '/etc/machine-id'");
    expect(ours.cause).toBe(enoent);
  });

  it("is internal when no code is given, and takes a thrown non-Error as text", () => {
    const ours = FleetgateError.from("boom");
    expect([ours.code, ours.message, ours.cause]).toEqual(["internal", "boom", "boom"]);
  });

  it("says what to do in the given message while still keeping the cause", () => {
    const parse = new SyntaxError("Unexpected token } in JSON at position 3");
    const ours = FleetgateError.from(parse, "bad_input", `manifest.json is not JSON: ${parse.message}`);
    expect(ours.message).toBe("manifest.json is not JSON: Unexpected token } in JSON at position 3");
    expect(ours.cause).toBe(parse);
  });

  it("passes a FleetgateError through unchanged, code, message and all", () => {
    const refused = new FleetgateError("not_found", "no run r1; list them with: coord runs");
    expect(FleetgateError.from(refused, "bad_input", "something else")).toBe(refused);
  });

  it("gives a CLI exit status by code, and 70 (EX_SOFTWARE, never 1: NO-GO) for a foreign error", () => {
    expect(EXIT_CODE).toEqual({ bad_input: 3, unauthenticated: 3, permission_denied: 3, not_found: 3, conflict: 3, exhausted: 3, unreachable: 4, internal: 70 });
    const quiet = process.stderr.write;
    process.stderr.write = () => true;
    try {
      for (const code of CODES) expect(reportFailure("coord", new FleetgateError(code, "x"))).toBe(EXIT_CODE[code]);
      process.env.FLEETGATE_CRASH_DIR = "/nonexistent";
      expect(reportFailure("coord", new TypeError("x is undefined"))).toBe(70);
    } finally {
      process.stderr.write = quiet;
      delete process.env.FLEETGATE_CRASH_DIR;
    }
  });
});

describe("gRPC status mapping (shared/grpc/status.ts)", () => {
  it.each(CODES)("sends %s as a status the client reads back as the same code and message", (code) => {
    const sent = new FleetgateError(code, "expected X, saw Y");
    const status = toGrpcError(sent);
    expect(status.details).toBe("expected X, saw Y");
    const back = fromGrpcError(Object.assign(new Error(status.message), status), ADDRESS);
    expect(back.code).toBe(code);
    if (code === "unreachable") expect(back.message).toBe(`coordinator unreachable at ${ADDRESS} (expected X, saw Y); start it with: coord serve, or pass --coordinator HOST:PORT`);
    else expect(back.message).toBe("expected X, saw Y");
  });

  it("sends a foreign error as internal, saying so, without leaking its type", () => {
    expect(toGrpcError(new TypeError("cannot read properties of undefined"))).toEqual({
      code: GrpcStatus.INTERNAL,
      details: "internal error: cannot read properties of undefined",
      message: "cannot read properties of undefined",
    });
  });

  it("sends a rate limit's retry hint as a trailer the client reads back, and none when there is no hint", () => {
    const limited = toGrpcError(new FleetgateError("exhausted", "too many hellos naming node n1", undefined, { retryAfterMs: 1234.5 }));
    expect(limited.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(retryAfterMs(limited as ServiceError)).toBe(1235);
    expect(toGrpcError(new FleetgateError("exhausted", "too large")).metadata).toBeUndefined();
    expect(retryAfterMs(serviceError(GrpcStatus.RESOURCE_EXHAUSTED, "Received message larger than max"))).toBeUndefined();
  });

  it("reads every gRPC status as a FleetgateError, keeping the call's error as the cause", () => {
    const expected: Record<string, ErrorCode> = {
      UNAVAILABLE: "unreachable",
      DEADLINE_EXCEEDED: "unreachable",
      UNAUTHENTICATED: "unauthenticated",
      PERMISSION_DENIED: "permission_denied",
      INVALID_ARGUMENT: "bad_input",
      RESOURCE_EXHAUSTED: "exhausted",
      NOT_FOUND: "not_found",
      FAILED_PRECONDITION: "conflict",
      UNIMPLEMENTED: "conflict",
    };
    for (const [name, code] of Object.entries(GrpcStatus).filter(([, v]) => typeof v === "number") as [string, GrpcStatus][]) {
      const failed = serviceError(code, "d");
      const ours = fromGrpcError(failed, ADDRESS);
      expect(ours.code, name).toBe(expected[name] ?? "internal");
      expect(ours.cause, name).toBe(failed);
    }
  });

  it("names the address when nothing answered or the coordinator is older, and drops grpc-js's empty resolution note", () => {
    expect(fromGrpcError(serviceError(GrpcStatus.UNAVAILABLE, "No connection established. Resolution note: "), ADDRESS).message).toBe(
      `coordinator unreachable at ${ADDRESS} (No connection established); start it with: coord serve, or pass --coordinator HOST:PORT`,
    );
    expect(fromGrpcError(serviceError(GrpcStatus.UNIMPLEMENTED, "The server does not implement the method /x"), ADDRESS).message).toBe(
      `the coordinator at ${ADDRESS} does not know this call (The server does not implement the method /x); upgrade it to this CLI's version`,
    );
  });
});

/** The module specifiers a TypeScript file imports or re-exports, statically or dynamically. */
function importsOf(rel: string): string[] {
  const source = readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8");
  const specifier = /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
  return [...source.matchAll(specifier)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
}

describe("shared/errors.ts", () => {
  it("imports nothing from @grpc/grpc-js: the status mapping lives with the transport", () => {
    expect(importsOf("../../shared/errors.ts").filter((i) => i.includes("grpc"))).toEqual([]);
    // The same reading does see grpc-js where the mapping now lives.
    expect(importsOf("../../shared/grpc/status.ts")).toEqual(["@grpc/grpc-js", "../errors.js", "./standby.js"]);
  });
});
