import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { debianVersion } from "../../scripts/deb-version.js";
import { needsTool } from "../support/system-tools.js";

describe("debianVersion", () => {
  it("keeps a release as it is", () => {
    expect(debianVersion("0.1.0")).toBe("0.1.0");
  });

  it("turns a checkout's git revision into +git<rev>", () => {
    expect(debianVersion("0.1.0+g87f41e3")).toBe("0.1.0+git87f41e3");
  });

  it("puts a prerelease before its release with ~", () => {
    expect(debianVersion("0.2.0-rc.1")).toBe("0.2.0~rc.1");
    expect(debianVersion("0.2.0-rc-2+g1234567")).toBe("0.2.0~rc.2+git1234567");
  });

  it("refuses what is not semver, naming package.json", () => {
    expect(() => debianVersion("0.1")).toThrow(/package.json/);
  });

  // dpkg itself orders them: prerelease < release < build from a checkout of that release < next.
  it.skipIf(!needsTool("dpkg", "dpkg"))("sorts in dpkg's order as in semver's", async () => {
    const ordered = ["0.2.0-rc.1", "0.2.0-rc.2", "0.2.0", "0.2.0+g1234567", "0.2.1"].map(debianVersion);
    for (let i = 1; i < ordered.length; i++) {
      const r = await execa("dpkg", ["--compare-versions", ordered[i - 1]!, "lt", ordered[i]!], { reject: false });
      expect(r.exitCode, `${ordered[i - 1]} < ${ordered[i]}`).toBe(0);
    }
  });
});
