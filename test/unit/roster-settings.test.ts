// coord serve --tailscale-tag / --tailscale-socket resolve like every serve setting: flag > env >
// coord.yaml > default; a tag that is not a Tailscale ACL tag is refused naming the flag.
import { describe, expect, it } from "vitest";
import { loadServeConfig, resolveServeSettings, rosterSettings } from "../../coordinator/cli/serve-config.js";
import { refusal } from "../support/refusal.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

describe("the Tailscale roster settings", () => {
  const roster = (flags: { tailscaleTag?: string; tailscaleSocket?: string }, env: NodeJS.ProcessEnv = {}, file: { tailscale_tag?: string; tailscale_socket?: string } = {}) =>
    rosterSettings(resolveServeSettings({ san: [], ...flags }, env, file));

  it("keeps no roster without a tag, and reads the tailscaled socket by default", () => {
    expect(roster({})).toBeUndefined();
    expect(roster({ tailscaleTag: "tag:fleet" })).toEqual({ tag: "tag:fleet", socketPath: "/var/run/tailscale/tailscaled.sock" });
  });

  it("takes the flag over the env variable over coord.yaml", () => {
    const file = { tailscale_tag: "tag:file", tailscale_socket: "/file.sock" };
    expect(roster({}, {}, file)).toEqual({ tag: "tag:file", socketPath: "/file.sock" });
    expect(roster({}, { FLEETGATE_TAILSCALE_TAG: "tag:env", FLEETGATE_TAILSCALE_SOCKET: "/env.sock" }, file)).toEqual({ tag: "tag:env", socketPath: "/env.sock" });
    expect(roster({ tailscaleTag: "tag:flag", tailscaleSocket: "/flag.sock" }, { FLEETGATE_TAILSCALE_TAG: "tag:env" }, file)).toEqual({ tag: "tag:flag", socketPath: "/flag.sock" });
  });

  it("refuses a tag without the tag: prefix, from a flag or from coord.yaml (file:line)", () => {
    expect(refusal(() => roster({ tailscaleTag: "fleet" })).message).toBe('--tailscale-tag "fleet": expected a Tailscale ACL tag such as tag:fleet');
    const dir = mkdtempSync(join(tmpdir(), "fleetgate-roster-cfg-"));
    try {
      const path = join(dir, "coord.yaml");
      writeFileSync(path, "listen: 127.0.0.1:7400\ntailscale_tag: fleet\n");
      expect(refusal(() => loadServeConfig(path)).message).toMatch(/coord\.yaml:2:\d+ .*expected a Tailscale ACL tag such as tag:fleet/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
