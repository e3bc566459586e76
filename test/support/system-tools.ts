// What a test file needs from the host beyond Node: a program from a Debian package (bats, nginx,
// xmllint, chromium, curl, ip, nft …) or root. Where it is missing, the tests that need it skip and
// the file prints one line saying what to install; the file's other tests still run. Under
// FLEETGATE_TEST_STRICT=1 (.ci/run, which installs every package) the same line fails a test
// instead, so a package dropped from CI cannot turn into a quietly green run.
//
//   const xmllint = needsTool("xmllint", "libxml2-utils");   // at the top of the file, not in a test
//   it.skipIf(!xmllint)("is valid against the JUnit XSD", …);
import { it } from "vitest";
import { missingTool, toolPath } from "./host-tools.js";

export { missingTool, toolPath } from "./host-tools.js";

const STRICT = process.env.FLEETGATE_TEST_STRICT === "1";

// Module state is per test file: vitest gives every file its own module graph.
const reported = new Set<string>();

/**
 * True when there is no problem. Otherwise false, once per problem per file printing
 * "skipped: PROBLEM", or under FLEETGATE_TEST_STRICT=1 adding one test that fails with PROBLEM.
 * Call it while the file is collected (top level or a describe body), never inside a test.
 */
export function needs(...problems: (string | undefined)[]): boolean {
  const found = problems.filter((p): p is string => p !== undefined);
  for (const problem of found) {
    if (reported.has(problem)) continue;
    reported.add(problem);
    if (STRICT) {
      it("finds what its tests need on this host (FLEETGATE_TEST_STRICT=1 fails instead of skipping)", () => {
        throw new Error(problem);
      });
    } else {
      process.stderr.write(`skipped: ${problem}\n`);
    }
  }
  return found.length === 0;
}

/** Whether `tool` (a name on PATH, or a path) is here; see needs() for when it is not. */
export function needsTool(tool: string, debianPackage: string): boolean {
  return needs(toolPath(tool) ? undefined : missingTool(tool, debianPackage));
}
