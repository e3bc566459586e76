// Which gate checks of a suite a run asks for: --quick and --tags keep checks carrying one of the
// tags, --only keeps checks with these ids; both asked, a check must pass both. Preconditions are
// never selected away: they decide whether the node can be judged at all. The agent runs by this
// and the coordinator's dry run shows by it, so what the dry run marks left out is what is left out.
import type { ResolvedCheck } from "./suite.js";

/** Why `check` is left out, or undefined when it runs (nothing asked means every check runs). */
export function whyNotSelected(check: Pick<ResolvedCheck, "id" | "tags">, onlyTags: string[], onlyChecks: string[] = []): string | undefined {
  if (onlyChecks.length && !onlyChecks.includes(check.id)) return `not one of the checks asked for (${onlyChecks.join(", ")})`;
  if (onlyTags.length && !check.tags.some((t) => onlyTags.includes(t))) return `not tagged ${onlyTags.join(" or ")}`;
  return undefined;
}

/** The selection as a predicate for the suite run; undefined when nothing is asked for. */
export function checkSelector(onlyTags: string[], onlyChecks: string[] = []): ((check: ResolvedCheck) => boolean) | undefined {
  if (!onlyTags.length && !onlyChecks.length) return undefined;
  return (check) => whyNotSelected(check, onlyTags, onlyChecks) === undefined;
}
