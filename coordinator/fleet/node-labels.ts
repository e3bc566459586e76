// Pure: a node's labels as the sequencer sees them. The agent declares its own (--label on the
// node); an operator may set more on the coordinator (`coord nodes label`), e.g. to move a node
// out of role=fleet without a trip to the machine over a flaky link (seed archy). For a key both
// set, the coordinator's value wins: it is the later, central decision, and the one `coord nodes`
// shows beside the agent's. Removing a coordinator label (`key-`) lets the agent's value show again.
import { FleetgateError } from "../../shared/errors.js";
import { LABEL_KEY as KEY } from "../../shared/labels.js";

/** The set selectors match: the agent's labels with the coordinator's over them. */
export function mergedLabels(agent: Record<string, string>, coordinator: Record<string, string>): Record<string, string> {
  return { ...agent, ...coordinator };
}

export interface LabelEdits {
  set: Record<string, string>;
  remove: string[];
}

/** `k=v` sets, `k-` removes (as kubectl label does); anything else is refused, naming the argument. */
export function parseLabelEdits(args: string[]): LabelEdits {
  const edits: LabelEdits = { set: {}, remove: [] };
  if (!args.length) throw new FleetgateError("bad_input", "give at least one label: KEY=VALUE to set, KEY- to remove (e.g. role=fleet site-)");
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq > 0 && KEY.test(arg.slice(0, eq))) edits.set[arg.slice(0, eq)] = arg.slice(eq + 1);
    else if (eq < 0 && arg.endsWith("-") && KEY.test(arg.slice(0, -1))) edits.remove.push(arg.slice(0, -1));
    else throw new FleetgateError("bad_input", `label "${arg}": expected KEY=VALUE to set or KEY- to remove (keys: letters, digits, . _ / -), e.g. role=fleet`);
  }
  const both = edits.remove.filter((k) => k in edits.set);
  if (both.length) throw new FleetgateError("bad_input", `label ${both.join(", ")} is both set and removed; give one of the two`);
  return edits;
}

/** The coordinator labels after `edits`; removing a key that is not set is no error (nothing to do). */
export function applyLabelEdits(current: Record<string, string>, edits: LabelEdits): Record<string, string> {
  const next = { ...current, ...edits.set };
  for (const k of edits.remove) delete next[k];
  return next;
}

/** "role=canary (was fleet), site=ams, zone- (was b)" for the node's timeline: what one edit changed. */
export function describeLabelChange(before: Record<string, string>, after: Record<string, string>): string {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const parts: string[] = [];
  for (const k of keys) {
    const [b, a] = [before[k], after[k]];
    if (b === a) continue;
    if (b === undefined) parts.push(`${k}=${a}`);
    else if (a === undefined) parts.push(`${k}- (was ${b})`);
    else parts.push(`${k}=${a} (was ${b})`);
  }
  return parts.join(", ");
}
