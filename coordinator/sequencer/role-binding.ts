// Pure: binds each role of a cross stage to a node of its own. Two roles on one node would make
// a "cross-node" scenario talk to itself, which proves nothing about the network between nodes.
import { FleetgateError } from "../../shared/errors.js";
import { formatLabels } from "../../shared/labels.js";
import type { Selector } from "../../shared/model/plan.js";
import { describeSelector, describeWant, drainedError, eligibleNodes, noEligibleError, whyNotEligible, type ExcludedNode, type NodeChoice, type RosterNode } from "./node-choice.js";

export interface RoleBinding {
  role: string;
  selector: Selector;
  node: RosterNode;
}

export interface BoundRoles {
  /** In the order the plan declares the roles. */
  bindings: RoleBinding[];
  nodes: NodeChoice;
}

/**
 * The first assignment of distinct nodes to roles, trying each role's candidates in order; a
 * backtracking search, so a greedy early pick never strands a later, pickier role.
 */
function assign(candidates: RosterNode[][], taken = new Set<string>(), at = 0): RosterNode[] | undefined {
  if (at === candidates.length) return [];
  for (const node of candidates[at] ?? []) {
    if (taken.has(node.name)) continue;
    taken.add(node.name);
    const rest = assign(candidates, taken, at + 1);
    taken.delete(node.name);
    if (rest) return [node, ...rest];
  }
  return undefined;
}

function whyUnbound(node: RosterNode, roles: [string, Selector][], matched: string[], named: string[]): ExcludedNode {
  if (matched.length) {
    const fills = matched.join(", ");
    // Candidates are tried online first, so an offline one left over lost to an online one.
    return node.online
      ? { name: node.name, reason: "roles_filled", detail: `matches ${fills}; each is bound to another node` }
      : { name: node.name, reason: "offline", detail: `online nodes fill ${fills}` };
  }
  const reasons = roles.map(([, selector]) => whyNotEligible(node, selector, named)).filter((r): r is ExcludedNode => !!r);
  const first = reasons.find((r) => r.reason !== "label_mismatch") ?? reasons[0];
  if (first?.reason === "label_mismatch") {
    const wants = roles.map(([role, selector]) => `${role} wants ${describeSelector(selector)}`).join(", ");
    return { name: node.name, reason: "label_mismatch", detail: `${formatLabels(node.labels) || "no labels"}; ${wants}` };
  }
  return first ?? { name: node.name, reason: "label_mismatch", detail: "matches no role" };
}

/** `pins` (--bind ROLE=NODE) bind a role to a node whatever its labels, as --node does. */
export function bindRoles(stageId: string, roles: Record<string, Selector>, roster: RosterNode[], named: string[], pins: Record<string, string> = {}): BoundRoles {
  const entries = Object.entries(roles);
  const candidates = entries.map(([role, selector]) => {
    const pinned = roster.find((n) => n.name === pins[role]);
    if (pinned?.drained !== undefined) throw drainedError(`stage ${stageId} role ${role} (--bind ${role}=${pinned.name})`, [pinned]);
    if (pinned) return [pinned];
    const { chosen, excluded } = eligibleNodes(selector, roster, named);
    if (!chosen.length) throw noEligibleError(`stage ${stageId} role ${role}`, describeWant(selector, named), roster, excluded);
    // Online first: a role bound to an offline node would hold the whole stage until it returns.
    return [...chosen.filter((n) => n.online), ...chosen.filter((n) => !n.online)];
  });
  const nodes = assign(candidates);
  if (!nodes) {
    const options = entries.map(([role, selector], i) => `${role} (${describeWant(selector, named)}): ${(candidates[i] ?? []).map((n) => n.name).join(", ")}`);
    throw new FleetgateError(
      "conflict",
      `stage ${stageId}: cannot bind roles ${entries.map(([r]) => r).join(", ")} to distinct nodes; candidates: ${options.join("; ")}. Each role needs a node of its own: register more matching nodes${named.length ? " or name more with --node" : ""}`,
    );
  }
  const bindings = entries.map(([role, selector], i) => ({ role, selector, node: nodes[i] as RosterNode }));
  const bound = new Set(nodes.map((n) => n.name));
  const excluded = roster
    .filter((n) => !bound.has(n.name))
    .map((n) => whyUnbound(n, entries, entries.filter((_, i) => candidates[i]?.includes(n)).map(([r]) => r), named));
  return { bindings, nodes: { chosen: nodes, excluded } };
}
