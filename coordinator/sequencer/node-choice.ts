// Pure: which roster nodes a stage, a matrix leg or a cross role may run on, and why each other
// node may not. The resolver (plan-run.ts) records each choice with the run, so the dry run shows
// the very choice the run would use, reasons included.
import { FleetgateError } from "../../shared/errors.js";
import { formatLabels, matchesSelector } from "../../shared/labels.js";
import type { Selector } from "../../shared/model/plan.js";

export interface RosterNode {
  name: string;
  labels: Record<string, string>;
  online: boolean;
  /** Set while an operator has the node drained (`coord nodes drain`): the reason given, maybe "". */
  drained?: string;
}

export type ExclusionReason = "label_mismatch" | "dev_node" | "offline" | "not_named" | "roles_filled" | "drained";

export interface ExcludedNode {
  name: string;
  reason: ExclusionReason;
  /** What was wanted and what the node has: "role=fleet; wants role=primary". */
  detail: string;
}

export interface NodeChoice {
  chosen: RosterNode[];
  /** Every other roster node, in roster order. */
  excluded: ExcludedNode[];
}

export function describeNode(n: RosterNode): string {
  return `${n.name} (${formatLabels(n.labels) || "no labels"}${n.online ? "" : ", offline"}${n.drained !== undefined ? ", drained" : ""})`;
}

/** "drained: kernel upgrade", or "drained" when no reason was given. */
export function drainText(n: RosterNode): string {
  return n.drained ? `drained: ${n.drained}` : "drained";
}

/** What an operator does about a drained node the run needs. */
const undrainHint = (names: string[]) => `undrain it when it may take work again: ${names.map((n) => `coord nodes undrain ${n}`).join("; ")}`;

/** A node the run cannot do without is drained: said as such, never as a generic "no node". */
export function drainedError(what: string, nodes: RosterNode[]): FleetgateError {
  const list = nodes.map((n) => `${n.name} (${drainText(n)})`).join(", ");
  return new FleetgateError("conflict", `${what} needs ${list}, drained by an operator: it takes no new task; ${undrainHint(nodes.map((n) => n.name))}`);
}

/** "role=primary", or "any label" for an empty selector. */
export function describeSelector(selector: Selector): string {
  return formatLabels(selector) || "any label";
}

/** Refuses a --node the roster does not know, before anything is chosen. */
export function checkNamedNodes(named: string[], roster: RosterNode[]): void {
  for (const n of named) {
    if (!roster.some((r) => r.name === n)) throw new FleetgateError("bad_input", `--node ${n}: no such node; see: coord nodes`);
  }
  const drained = roster.filter((r) => named.includes(r.name) && r.drained !== undefined);
  if (drained.length) throw drainedError(`--node ${drained.map((n) => n.name).join(", ")}: this run`, drained);
}

/**
 * Why `node` may not take work that wants `selector`, or undefined when it may. --node overrides
 * labels; `role=dev` nodes (a laptop, a scratch VM) are never gate targets unless named, whatever
 * the selector, so that is the reason given for them: naming one is the way to include it.
 */
export function whyNotEligible(node: RosterNode, selector: Selector, named: string[]): ExcludedNode | undefined {
  const name = node.name;
  if (named.length) return named.includes(name) ? undefined : { name, reason: "not_named", detail: `--node names ${named.join(", ")}` };
  if (node.labels.role === "dev") return { name, reason: "dev_node", detail: "role=dev takes gate work only when named with --node" };
  if (!matchesSelector(node.labels, selector)) {
    return { name, reason: "label_mismatch", detail: `${formatLabels(node.labels) || "no labels"}; wants ${describeSelector(selector)}` };
  }
  // Last: a drained node is named as drained only where it would otherwise have been chosen.
  if (node.drained !== undefined) return { name, reason: "drained", detail: `${drainText(node)}; matches ${describeSelector(selector)}` };
  return undefined;
}

export function eligibleNodes(selector: Selector, roster: RosterNode[], named: string[]): NodeChoice {
  const chosen: RosterNode[] = [];
  const excluded: ExcludedNode[] = [];
  for (const n of roster) {
    const why = whyNotEligible(n, selector, named);
    if (why) excluded.push(why);
    else chosen.push(n);
  }
  return { chosen, excluded };
}

/** "named a, b" or "matching role=fleet": how the work picked its nodes, for messages. */
export function describeWant(selector: Selector, named: string[]): string {
  return named.length ? `named ${named.join(", ")}` : `matching ${describeSelector(selector)}`;
}

export function noNodeError(what: string, want: string, roster: RosterNode[]): FleetgateError {
  const known = roster.length ? roster.map(describeNode).join(", ") : "none registered yet";
  return new FleetgateError("conflict", `${what}: no node ${want}; nodes: ${known}`);
}

/** No node for the work: because every one that would do is drained, or none matches at all. */
export function noEligibleError(what: string, want: string, roster: RosterNode[], excluded: ExcludedNode[]): FleetgateError {
  const drained = roster.filter((n) => excluded.some((e) => e.name === n.name && e.reason === "drained"));
  return drained.length ? drainedError(`${what} (${want})`, drained) : noNodeError(what, want, roster);
}

export function inRosterOrder(excluded: ExcludedNode[], roster: RosterNode[]): ExcludedNode[] {
  const at = new Map(roster.map((n, i) => [n.name, i]));
  return [...excluded].sort((a, b) => (at.get(a.name) ?? 0) - (at.get(b.name) ?? 0));
}

/**
 * The nodes `what` (a stage or a leg) runs on: every eligible node, or for `one`, the single one.
 * When several match and exactly one is online, that one: the others could not take work now.
 */
export function chooseTargets(what: string, selector: Selector, count: "one" | "all", roster: RosterNode[], named: string[]): NodeChoice {
  const { chosen, excluded } = eligibleNodes(selector, roster, named);
  const want = describeWant(selector, named);
  if (!chosen.length) throw noEligibleError(what, want, roster, excluded);
  if (count === "all" || chosen.length === 1) return { chosen, excluded };
  const online = chosen.filter((n) => n.online);
  const only = online[0];
  if (online.length !== 1 || !only) {
    throw new FleetgateError("conflict", `${what} runs on one node, but ${chosen.length} nodes are ${want}: ${chosen.map((n) => n.name).join(", ")}; pick one with --node`);
  }
  const offline = chosen.filter((n) => !n.online).map((n): ExcludedNode => ({ name: n.name, reason: "offline", detail: `${only.name} also matches and is online` }));
  return { chosen: online, excluded: inRosterOrder([...excluded, ...offline], roster) };
}
