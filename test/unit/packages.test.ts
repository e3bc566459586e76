import { describe, expect, it } from "vitest";
import { installedVersions, parseDpkgVersions } from "../../shared/packages.js";

describe("watched package versions", () => {
  it("keeps installed packages only, with their versions", () => {
    const out = "curl\t7.88.1-10+deb12u8\tii \nnginx\t1.22.1-9\trc \npodman\t\tun \n";
    expect(parseDpkgVersions(out)).toEqual({ curl: "7.88.1-10+deb12u8" });
  });

  it("reads real versions from this Debian host's dpkg, and leaves out what is not installed", async () => {
    const versions = await installedVersions(["curl", "no-such-package-fleetgate"]);
    expect(versions.curl).toMatch(/^\d+\.\d+/);
    expect(Object.keys(versions)).toEqual(["curl"]);
  });

  it("gives nothing, not an error, when asked for no packages", async () => {
    expect(await installedVersions([])).toEqual({});
  });
});
