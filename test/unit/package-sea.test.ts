import { describe, expect, it } from "vitest";
import { SEA_FUSE, seaUnsupported, type NodeBinary } from "../../scripts/package-sea.js";

const NODESOURCE: NodeBinary = { path: "/usr/bin/node", platform: "linux", sharedLibnode: false, hasFuse: true };

describe("whether this Node can become the agent's single executable", () => {
  it("can when it is a self-contained Linux node with the SEA fuse", () => {
    expect(seaUnsupported(NODESOURCE)).toBeUndefined();
  });

  it("cannot on another system, since the executable is a copy of the node building it", () => {
    expect(seaUnsupported({ ...NODESOURCE, platform: "darwin" })).toBe("fleetgate nodes run Linux, and the executable is a copy of the Node building it (darwin here); build on Linux");
  });

  it("cannot with a node over libnode.so, and says which Node to build with", () => {
    expect(seaUnsupported({ ...NODESOURCE, path: "/usr/bin/nodejs", sharedLibnode: true })).toMatch(
      /^\/usr\/bin\/nodejs is built against libnode\.so .* would need libnode on every node; build with Node 20 from nodejs\.org or NodeSource/,
    );
  });

  it("cannot with a node built without single executable support", () => {
    expect(seaUnsupported({ ...NODESOURCE, hasFuse: false })).toBe(`/usr/bin/node has no ${SEA_FUSE}: this Node was built without single executable application support`);
  });
});
