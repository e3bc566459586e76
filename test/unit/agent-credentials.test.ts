// The agent's enrollment secret: made before the first hello, the same after a restart until the
// node is registered, gone once the node token is saved.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Credentials, ENROLLMENT_SECRET_FILE } from "../../agent/daemon/credentials.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-credentials-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("the agent's enrollment secret", () => {
  it("is written to the state dir (0600) when first asked for, and read back by a restarted agent", () => {
    const secret = new Credentials(dir, "fge_x").enrollmentSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const file = join(dir, ENROLLMENT_SECRET_FILE);
    expect(readFileSync(file, "utf8").trim()).toBe(secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(new Credentials(dir, "fge_x").enrollmentSecret()).toBe(secret);
  });

  it("is removed once the node token is saved, and a later enrollment gets a new one", () => {
    const c = new Credentials(dir, "fge_x");
    const secret = c.enrollmentSecret();
    c.save("fgn_node");
    expect(existsSync(join(dir, ENROLLMENT_SECRET_FILE))).toBe(false);
    expect(c.current()).toEqual({ case: "nodeToken", value: "fgn_node" });
    expect(c.enrollmentSecret()).not.toBe(secret);
  });

  it("stays the same within the process when there is no state dir to keep it in", () => {
    const c = new Credentials(undefined, "fge_x");
    expect(c.enrollmentSecret()).toBe(c.enrollmentSecret());
  });
});
