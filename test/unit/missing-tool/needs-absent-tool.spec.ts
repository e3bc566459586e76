// Run only by missing-tools.test.ts, in a vitest of its own (not matched by the suite's *.test.ts).
import { expect, it } from "vitest";
import { needsTool } from "../../support/system-tools.js";

const present = needsTool("fleetgate-no-such-tool", "fleetgate-no-such-package");

it.skipIf(!present)("uses the tool", () => {
  expect.unreachable("the tool does not exist, so this test must be skipped");
});

it("still runs the file's other tests", () => {
  expect(present).toBe(false);
});
