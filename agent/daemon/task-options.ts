// Pure: what a task from the coordinator asks of the suite run beyond the suite itself.
import type { ExpansionScope } from "../../shared/model/expand.js";
import type { ResolvedCheck } from "../../shared/model/suite.js";

/** `{"origin.doc_id": "x"}` → `{ origin: { doc_id: "x" } }`, the shape `${origin.doc_id}` expands from. */
export function captureScope(captures: Record<string, string>): ExpansionScope {
  const scope: Record<string, Record<string, string>> = {};
  for (const [key, value] of Object.entries(captures)) {
    const dot = key.indexOf(".");
    if (dot <= 0) continue;
    const ns = key.slice(0, dot);
    (scope[ns] ??= {})[key.slice(dot + 1)] = value;
  }
  return scope;
}

/**
 * --quick/--tags: only checks carrying one of the tags; --only: only checks with these ids. Both
 * asked: a check must pass both. Nothing asked means every check.
 */
export function checkSelector(onlyTags: string[], onlyChecks: string[] = []): ((check: ResolvedCheck) => boolean) | undefined {
  if (!onlyTags.length && !onlyChecks.length) return undefined;
  return (check) => (!onlyTags.length || check.tags.some((t) => onlyTags.includes(t))) && (!onlyChecks.length || onlyChecks.includes(check.id));
}
