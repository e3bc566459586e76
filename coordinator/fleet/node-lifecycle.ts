// Operators' node lifecycle: drain, undrain and coordinator-side labels. Each change is stored on
// the node's row and recorded in its timeline (node_events), so an evidence bundle shows that a
// node was drained or relabelled around a run, by whom and why.
import { FleetgateError } from "../../shared/errors.js";
import type { Db } from "../store/db.js";
import { recordNodeEvent } from "../store/node-events.js";
import { drainNode, getNode, setCoordLabels, undrainNode, type NodeRow } from "../store/nodes.js";
import { applyLabelEdits, describeLabelChange, type LabelEdits } from "./node-labels.js";

function registered(db: Db, name: string): NodeRow {
  const node = getNode(db, name);
  if (!node) throw new FleetgateError("not_found", `no node ${name}; list them with: coord nodes`);
  return node;
}

const note = (db: Db, node: string, at: number, kind: "drained" | "undrained" | "labelled" | "forgotten", why: string) => recordNodeEvent(db, { node, at, kind, why, address: "" });

/** Drains `name` (a drained node gets a new reason); returns the row after, and whether it was drained before. */
export function drain(db: Db, name: string, reason: string, by: string, now = Date.now()): { node: NodeRow; already: boolean } {
  return db.transaction(() => {
    const before = registered(db, name);
    drainNode(db, name, { reason: reason.trim(), at: now, by });
    note(db, name, now, "drained", `by ${by}${reason.trim() ? `: ${reason.trim()}` : ""}`);
    return { node: registered(db, name), already: before.drain !== undefined };
  })();
}

/** Undrains `name`; nothing is changed or recorded when it was not drained. */
export function undrain(db: Db, name: string, by: string, now = Date.now()): { node: NodeRow; wasDrained: boolean } {
  return db.transaction(() => {
    const before = registered(db, name);
    if (!before.drain) return { node: before, wasDrained: false };
    undrainNode(db, name);
    note(db, name, now, "undrained", `by ${by}; drained since ${new Date(before.drain.at).toISOString()}${before.drain.reason ? ` (${before.drain.reason})` : ""}`);
    return { node: registered(db, name), wasDrained: true };
  })();
}

/** Applies `k=v` / `k-` edits to the node's coordinator labels; an edit that changes nothing records nothing. */
export function relabel(db: Db, name: string, edits: LabelEdits, by: string, now = Date.now()): NodeRow {
  return db.transaction(() => {
    const before = registered(db, name);
    const after = applyLabelEdits(before.coordLabels, edits);
    const change = describeLabelChange(before.coordLabels, after);
    if (!change) return before;
    setCoordLabels(db, name, after);
    note(db, name, now, "labelled", `by ${by}: ${change}`);
    return registered(db, name);
  })();
}

/** The timeline's last word on a forgotten node: who freed its name. */
export function noteForgotten(db: Db, name: string, machineId: string, by: string, now = Date.now()): void {
  note(db, name, now, "forgotten", `by ${by}; machine-id ${machineId.slice(0, 12)}; its node token no longer works`);
}
