// Pure: what a task from the coordinator asks of the suite run beyond the suite itself.
import type { ExpansionScope } from "../../shared/model/expand.js";

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

// --quick/--tags/--only: one selection, shared with the coordinator's dry run.
export { checkSelector } from "../../shared/model/check-selection.js";
