import { FleetgateError } from "./errors.js";

const KEY_PATTERN = "[A-Za-z0-9][\\w./-]*";
/** What a label key may be: on the agent's `--label` and on `coord nodes label`. */
export const LABEL_KEY = new RegExp(`^${KEY_PATTERN}$`);
const LABEL = new RegExp(`^(${KEY_PATTERN})=(.*)$`);

/** `role=primary` → ["role", "primary"]; used by `--label` on both CLIs. */
export function parseLabel(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const m = LABEL.exec(text);
  if (!m) throw new FleetgateError("bad_input", `--label expects KEY=VALUE (e.g. role=primary), got "${text}"`);
  return { ...previous, [m[1] as string]: m[2] as string };
}

export function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** Does every key of the selector equal the node's label? */
export function matchesSelector(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
