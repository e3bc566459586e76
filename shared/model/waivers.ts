// Waivers (after InSpec's): a known failure of one check, excused for a while by a named owner
// with a reason. A waiver changes how a result is *reported and folded*, never whether the check
// runs: the check runs, and its result is `waived` with what it came to underneath.
//
// What a waiver may cover is deliberately narrow: a gate check that was judged, i.e. passed or
// failed. A waiver excuses a known failure; it does not vouch for a node nobody could judge. So a
// precondition (whose failure means the node is not ready), and a check that errored, was not
// ready, skipped, cancelled, interrupted or lost keep their status, and the verdict treats them as
// ever (INCOMPLETE at best). Expiry is judged against one instant given by the caller (a run's
// start), never the clock at read time, so a stored run is judged the same way forever.
import { create } from "@bufbuild/protobuf";
import { z } from "zod";
import { WaiverSchema, type CheckResult, type Waiver } from "../gen/fleetgate/v1/common_pb.js";
import { FleetgateError } from "../errors.js";
import { Status, statusName } from "./status.js";
import { YamlSource } from "./yaml-source.js";

export type { Waiver };

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Midnight UTC starting `date` (YYYY-MM-DD), or undefined when it is no calendar date. */
function dayStart(date: string): number | undefined {
  const m = DAY.exec(date);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().slice(0, 10) === date ? ms : undefined;
}

const text = (what: string) => z.string({ error: `expected ${what} as text` }).trim().min(1, `expected ${what}, got ""`);

const WaiverEntrySchema = z
  .strictObject({
    check: text("the id of the check it waives"),
    node: text("a node name").optional(),
    role: text("a role").optional(),
    reason: text("why the failure is accepted"),
    owner: text("who answers for it"),
    // A YAML date stays text under the YAML 1.2 core schema the parser uses.
    expires: z.string({ error: "expected a date like 2026-12-31 (quote it if YAML read something else)" }).refine((d) => dayStart(d) !== undefined, {
      message: "expected a date like 2026-12-31",
    }),
  })
  .superRefine((w, ctx) => {
    if (w.node !== undefined && w.role !== undefined) ctx.addIssue({ code: "custom", path: ["role"], message: "give node or role, not both (neither: every node)" });
  });

const WaiversFileSchema = z.array(WaiverEntrySchema, { error: "expected a list of waivers (- check: …, reason: …, owner: …, expires: YYYY-MM-DD)" });

/** Parses a waivers file; every problem is refused as `file:line:col [i].field: …` (exit 3). */
export function parseWaivers(yamlText: string, file: string): Waiver[] {
  const source = YamlSource.parse(yamlText, file);
  const entries = source.validate(WaiversFileSchema);
  const seen = new Map<string, number>();
  return entries.map((e, i) => {
    const key = `${e.check}\u0000${e.node ?? ""}\u0000${e.role ?? ""}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new FleetgateError("bad_input", `[${i}]: a second waiver for check ${e.check} on ${selectorText(e)} (the first is [${earlier}]); keep one`, source.where([i]));
    }
    seen.set(key, i);
    const where = source.where([i]);
    return create(WaiverSchema, {
      checkId: e.check,
      node: e.node ?? "",
      role: e.role ?? "",
      reason: e.reason,
      owner: e.owner,
      expires: e.expires,
      expiresAtMs: BigInt(dayStart(e.expires) ?? 0),
      source: `${where.file}:${where.line}:${where.col}`,
    });
  });
}

function selectorText(w: { node?: string; role?: string }): string {
  return w.node ? `node ${w.node}` : w.role ? `role ${w.role}` : "every node";
}

/** Whether the waiver has lapsed at `atMs`: it holds until its `expires` day begins (UTC). */
export function isExpired(w: Waiver, atMs: number): boolean {
  return Number(w.expiresAtMs) <= atMs;
}

/** The waivers as a run keeps them: each marked expired or not at the run's start. */
export function markExpired(waivers: Waiver[], atMs: number): Waiver[] {
  return waivers.map((w) => create(WaiverSchema, { ...w, expired: isExpired(w, atMs) }));
}

/** `waiver for api on role fleet (waivers.yaml:4:3) expired 2026-11-01: ignored, the check counts as it is` */
export function expiredWarning(w: Waiver): string {
  return `waiver for ${w.checkId} on ${selectorText(w)} (${w.source}, owner ${w.owner}) expired ${w.expires}: ignored, the check counts as it is`;
}

/** The node a waiver is matched against: its name and its `role` label. */
export interface WaiverTarget {
  node: string;
  role: string;
}

/** The waivers in force on one node: not expired, selector matching. */
export function waiversFor(waivers: Waiver[], target: WaiverTarget): Waiver[] {
  return waivers.filter((w) => !w.expired && (!w.node || w.node === target.node) && (!w.role || w.role === target.role));
}

/**
 * Applies the first waiver naming this result's check: a gate check that passed or failed becomes
 * waived, keeping what it came to. Anything else is returned as it is (see the top of this file).
 * `waivers` must already be those in force on this node (waiversFor).
 */
export function applyWaiver(result: CheckResult, waivers: Waiver[]): CheckResult {
  if (result.precondition || (result.status !== Status.PASSED && result.status !== Status.FAILED)) return result;
  const waiver = waivers.find((w) => w.checkId === result.checkId);
  if (!waiver) return result;
  result.unwaivedStatus = result.status;
  result.waiver = waiver;
  result.status = Status.WAIVED;
  return result;
}

/** `waived (failed: expected exit 0, saw 1)`: what every output shows for a waived check. */
export function waivedText(result: Pick<CheckResult, "status" | "unwaivedStatus" | "summary">): string {
  const under = statusName(result.unwaivedStatus);
  return result.summary ? `waived (${under}: ${result.summary})` : `waived (${under})`;
}

/** A waived check with its waiver when it carries one: `waived (failed: …); waiver by alice, …`. */
export function waivedDetail(result: Pick<CheckResult, "status" | "unwaivedStatus" | "summary" | "waiver">): string {
  return result.waiver ? `${waivedText(result)}; ${waiverText(result.waiver)}` : waivedText(result);
}

/** `waiver by alice, expires 2026-12-31 (waivers.yaml:4:3): upstream bug #12` */
export function waiverText(w: Waiver): string {
  return `waiver by ${w.owner}, expires ${w.expires} (${w.source}): ${w.reason}`;
}
