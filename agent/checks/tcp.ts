import { connect } from "node:net";
import { splitAddress, TcpSpecSchema, type TcpSpec } from "../../shared/model/kinds/tcp.js";
import type { CheckKind, Verdict } from "./kind.js";

/** One connection attempt: connected after `ms`, or the reason it did not (ECONNREFUSED, a timeout). */
export type TcpObserved = { address: string; connected: true; ms: number } | { address: string; connected: false; error: string };

/** Opens one TCP connection from this node and closes it at once; no process, no bytes sent. */
export function probeTcp(address: string, timeoutMs: number): Promise<TcpObserved> {
  const target = splitAddress(address);
  // A ${var} can expand into something that is not host:port; evaluate() reports it.
  if (!target) return Promise.resolve({ address, connected: false, error: "not a host:port address" });
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    const finish = (result: TcpObserved) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ address, connected: false, error: `timed out after ${timeoutMs} ms` }), timeoutMs);
    socket.once("connect", () => finish({ address, connected: true, ms: Math.round(performance.now() - started) }));
    socket.once("error", (err: NodeJS.ErrnoException) => finish({ address, connected: false, error: err.code ?? err.message }));
  });
}

// A name that did not resolve says nothing about the port, so it never proves "closed".
const UNRESOLVED = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL"]);

function evaluateTcp(spec: TcpSpec, seen: TcpObserved): Verdict {
  if (!splitAddress(seen.address)) return { passed: false, summary: `invalid address ${JSON.stringify(seen.address)}: expected host:port` };
  const what = seen.connected ? `connected to ${seen.address} in ${seen.ms} ms` : `cannot connect to ${seen.address}: ${seen.error}`;
  if (!spec.expect_closed) return { passed: seen.connected, summary: what };
  return seen.connected
    ? { passed: false, summary: `expected ${seen.address} closed, but ${what}` }
    : UNRESOLVED.has(seen.error)
      ? { passed: false, summary: `cannot tell whether ${seen.address} is closed: ${seen.error}` }
      : { passed: true, summary: `closed as expected: ${what}` };
}

export const tcpCheck: CheckKind<TcpSpec, TcpObserved> = {
  kind: "tcp",
  schema: TcpSpecSchema,
  observe: (spec, ctx) => probeTcp(spec.address, ctx.timeoutMs),
  evaluate: evaluateTcp,
  evidence: (seen) => ({ stdout: `${JSON.stringify(seen)}\n`, stderr: "" }),
};
