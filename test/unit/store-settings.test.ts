// `coord serve --store postgres://…` and its companions (issue 19): checked before anything
// connects, each refusal naming the setting; the password never comes from argv.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { advertisedAddress, resolveServeSettings, storeSettings } from "../../coordinator/cli/serve-config.js";
import { describeStore, postgresStoreSettings } from "../../coordinator/store/postgres-settings.js";
import { refusal } from "../support/refusal.js";

const URL = "postgres://fleetgate@db.example.net:5432/fleetgate";
let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "fleetgate-store-settings-"))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const settings = (flags: Record<string, string>, file: Record<string, string> = {}) => resolveServeSettings({ san: [], ...flags }, {}, file);

describe("the PostgreSQL store's settings", () => {
  it("refuses a password in the URL, where the process list shows it", () => {
    const err = refusal(() => postgresStoreSettings("postgres://fleetgate:s3cret@db/fleetgate", undefined));
    expect(err.code).toBe("bad_input");
    expect(err.message).toMatch(/^--store carries a password, .*: put it in --store-password-file FILE/);
    expect(err.message).not.toContain("s3cret");
  });

  it("refuses what is not a postgres:// URL, saying how to get SQLite", () => {
    expect(refusal(() => postgresStoreSettings("mysql://db/fleetgate", undefined)).message).toMatch(/expected postgres:\/\/user@host:port\/database \(leave --store out for SQLite/);
  });

  it("reads the password file without its trailing newline, and refuses an empty or missing one", () => {
    writeFileSync(join(dir, "pass"), "pa ss\n", { mode: 0o600 });
    expect(postgresStoreSettings(URL, join(dir, "pass")).password).toBe("pa ss");
    writeFileSync(join(dir, "empty"), "\n");
    expect(refusal(() => postgresStoreSettings(URL, join(dir, "empty"))).message).toMatch(/--store-password-file .*empty is empty/);
    expect(refusal(() => postgresStoreSettings(URL, join(dir, "nope"))).message).toMatch(/--store-password-file .*nope: ENOENT/);
  });

  it("describes the store for logs without its query", () => {
    expect(describeStore(`${URL}?sslmode=require`)).toBe("postgres://fleetgate@db.example.net:5432/fleetgate");
  });
});

describe("coord serve's store settings", () => {
  it("keeps SQLite when no store is given, and refuses a password file without one", () => {
    expect(storeSettings(settings({}), "127.0.0.1:7400")).toBeUndefined();
    expect(refusal(() => storeSettings(settings({ storePasswordFile: "/etc/fleetgate/store.pass" }), "127.0.0.1:7400")).message).toMatch(/--store-password-file is for a PostgreSQL store/);
  });

  it("takes the store, id, advertised address and lease from coord.yaml, flags first", () => {
    const s = storeSettings(settings({ id: "coord-b" }, { store: URL, id: "coord-a", advertise: "coord-a.example.net:7400", lease: "6s" }), "0.0.0.0:7400");
    expect(s).toEqual({ postgres: { url: URL }, ha: { id: "coord-b", advertise: "coord-a.example.net:7400", timings: { leaseMs: 6000 } } });
  });

  it("advertises the listen address, or the host name for a wildcard", () => {
    expect(advertisedAddress("10.0.0.1:7400")).toBe("10.0.0.1:7400");
    expect(advertisedAddress("0.0.0.0:7400")).toBe(`${hostname()}:7400`);
    expect(storeSettings(settings({ store: URL }), "10.0.0.1:7401")?.ha.advertise).toBe("10.0.0.1:7401");
  });

  it("refuses an id, an advertised address or a lease it cannot use, naming the flag", () => {
    expect(refusal(() => storeSettings(settings({ store: URL, id: "a b" }), "10.0.0.1:7400")).message).toMatch(/^--id "a b":/);
    expect(refusal(() => storeSettings(settings({ store: URL, advertise: "coord-a" }), "10.0.0.1:7400")).message).toMatch(/^--advertise "coord-a": expected host:port/);
    expect(refusal(() => storeSettings(settings({ store: URL, lease: "soon" }), "10.0.0.1:7400")).message).toMatch(/--lease/);
  });
});
