// Can this process build netns nodes at all? Answered before anything is created: a test file asks
// needsNetnsHost() and skips (or, under FLEETGATE_TEST_STRICT=1, fails) with what to do.
import { needs } from "../support/system-tools.js";
import { observeHost, preflightProblems, type HostFacts } from "./host-check.js";

export * from "./host-check.js";

/** For a test file: whether netns fleets can be built here (see needs() for when they cannot). */
export function needsNetnsHost(facts: HostFacts = observeHost()): boolean {
  return needs(...preflightProblems(facts));
}
