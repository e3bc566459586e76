import { z } from "zod";

// host:port, or [v6]:port. The host may still hold ${vars.x}: suites are validated before expansion.
const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/;
const HAS_VARIABLE = /\$\{[^}]+\}/;

/** Splits "127.0.0.1:50001" or "[::1]:50001"; undefined when it is not host:port. */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const m = ADDRESS.exec(address);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}

/** `tcp:` — can this node open a TCP connection to an address (or, with expect_closed, not)? */
export const TcpSpecSchema = z.strictObject({
  address: z.string().refine((a) => HAS_VARIABLE.test(a) || splitAddress(a) !== undefined, {
    error: (iss) => `expected host:port with a port 1–65535, like "127.0.0.1:50001" or "[::1]:50001", got ${JSON.stringify(iss.input)}`,
  }),
  expect_closed: z.boolean().optional(),
});
export type TcpSpec = z.infer<typeof TcpSpecSchema>;
