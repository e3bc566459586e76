import { createServer, type AddressInfo, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { tcpCheck, type TcpObserved } from "../../agent/checks/tcp.js";
import { splitAddress, TcpSpecSchema } from "../../shared/model/kinds/tcp.js";

const ADDRESS = "127.0.0.1:50001";
const connected: TcpObserved = { address: ADDRESS, connected: true, ms: 3 };
const refused: TcpObserved = { address: ADDRESS, connected: false, error: "ECONNREFUSED" };

describe("tcpCheck.evaluate", () => {
  it("passes when the connection was made and says how long it took", () => {
    expect(tcpCheck.evaluate({ address: ADDRESS }, connected)).toEqual({ passed: true, summary: "connected to 127.0.0.1:50001 in 3 ms" });
  });

  it("fails with the socket error when nothing accepted the connection", () => {
    expect(tcpCheck.evaluate({ address: ADDRESS }, refused)).toEqual({ passed: false, summary: "cannot connect to 127.0.0.1:50001: ECONNREFUSED" });
  });

  it("with expect_closed, passes on a refused or timed-out connection and fails on an open port", () => {
    const closed = { address: ADDRESS, expect_closed: true };
    expect(tcpCheck.evaluate(closed, refused)).toEqual({ passed: true, summary: "closed as expected: cannot connect to 127.0.0.1:50001: ECONNREFUSED" });
    expect(tcpCheck.evaluate(closed, { address: ADDRESS, connected: false, error: "timed out after 500 ms" }).passed).toBe(true);
    expect(tcpCheck.evaluate(closed, connected)).toEqual({ passed: false, summary: "expected 127.0.0.1:50001 closed, but connected to 127.0.0.1:50001 in 3 ms" });
  });

  it("with expect_closed, does not count a name that did not resolve as a closed port", () => {
    const seen: TcpObserved = { address: "electrum.invalid:50001", connected: false, error: "ENOTFOUND" };
    expect(tcpCheck.evaluate({ address: seen.address, expect_closed: true }, seen)).toEqual({
      passed: false,
      summary: "cannot tell whether electrum.invalid:50001 is closed: ENOTFOUND",
    });
  });

  it("fails an address that expanded into something that is not host:port", () => {
    const seen: TcpObserved = { address: "127.0.0.1", connected: false, error: "not a host:port address" };
    expect(tcpCheck.evaluate({ address: "${vars.electrum}", expect_closed: true }, seen)).toEqual({
      passed: false,
      summary: 'invalid address "127.0.0.1": expected host:port',
    });
  });
});

describe("tcp schema", () => {
  it("accepts host:port, [v6]:port and a host still holding a ${variable}", () => {
    for (const address of ["127.0.0.1:50001", "[::1]:50001", "node-a.tail1234.ts.net:22", "${vars.host}:50001"]) {
      expect(TcpSpecSchema.safeParse({ address }).success, address).toBe(true);
    }
    expect(splitAddress("[::1]:8332")).toEqual({ host: "::1", port: 8332 });
  });

  it("refuses an address without a valid port, and unknown fields", () => {
    for (const address of ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:80", "host: 80"]) {
      expect(TcpSpecSchema.safeParse({ address }).success, address).toBe(false);
    }
    expect(TcpSpecSchema.safeParse({ address: ADDRESS, port: 1 }).success).toBe(false);
  });
});

describe("tcpCheck.observe against real sockets on 127.0.0.1", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

  async function listen(): Promise<{ address: string; accepted: () => number }> {
    let count = 0;
    server = createServer((socket) => {
      count++;
      socket.destroy();
    });
    await new Promise<void>((ready) => server?.listen(0, "127.0.0.1", ready));
    return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, accepted: () => count };
  }

  const ctx = { timeoutMs: 5000, maxOutputBytes: 4096 };

  it("connects to a listening server, which sees the connection", async () => {
    const { address, accepted } = await listen();
    const v = tcpCheck.evaluate({ address }, await tcpCheck.observe({ address }, ctx));
    expect(v.passed).toBe(true);
    expect(v.summary).toMatch(new RegExp(`^connected to ${address.replace(/\./g, "\\.")} in \\d+ ms$`));
    await expect.poll(accepted).toBe(1);
  });

  it("reports ECONNREFUSED on a port nothing listens on, and passes expect_closed there", async () => {
    const { address } = await listen();
    await new Promise<void>((closed) => server?.close(() => closed()));
    server = undefined;
    const seen = await tcpCheck.observe({ address }, ctx);
    expect(tcpCheck.evaluate({ address }, seen)).toEqual({ passed: false, summary: `cannot connect to ${address}: ECONNREFUSED` });
    expect(tcpCheck.evaluate({ address, expect_closed: true }, seen).passed).toBe(true);
  });
});
