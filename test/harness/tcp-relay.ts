// A loopback TCP relay whose traffic can be frozen both ways, connections left open: a network
// partition between one client and a server on this host, with nothing to configure and no
// privileges (the PostgreSQL election test and `npm run bench -- failover` cut a coordinator off
// from its database with it).
import { connect, createServer, type Server, type Socket } from "node:net";

export interface FreezableRelay {
  /** The relay's port on 127.0.0.1: dial it instead of the target. */
  port: number;
  /** From now on nothing crosses, in either direction, not even a closed connection's FIN. */
  freeze(): void;
  /** Destroys every relayed connection and stops listening. */
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1 and relays each connection to `target` on 127.0.0.1 until frozen. */
export async function freezableRelay(target: number): Promise<FreezableRelay> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server: Server = createServer((inbound) => {
    const outbound = connect(target, "127.0.0.1");
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => sockets.delete(s));
    }
    inbound.on("data", (d) => frozen || outbound.write(d));
    outbound.on("data", (d) => frozen || inbound.write(d));
    // Frozen, a socket closed on one side is not passed on either: across a partition nothing arrives, not even a FIN.
    inbound.on("close", () => frozen || outbound.destroy());
    outbound.on("close", () => frozen || inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("tcp relay: no port");
  return {
    port: address.port,
    freeze: () => {
      frozen = true;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
