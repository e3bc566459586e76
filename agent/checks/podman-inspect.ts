// Reads `podman inspect` output for one container and compares it with a `podman: { container: … }`
// block. Two recorded forms: `--format {{json .State}}` prints the bare State object
// (inspect-format-state-*.json), the plain form prints a JSON array of whole documents
// (inspect-created-*.json) — the only one with ImageName, RestartCount and Config.Healthcheck.
import type { PodmanSpec } from "../../shared/model/kinds/podman.js";
import { match, preview, type Matcher } from "../../shared/model/matchers.js";
import type { ProcessOutcome } from "../process.js";
import { firstLine, processFailure, toolMissing, type Verdict } from "./kind.js";

interface HealthLog {
  ExitCode: number;
  Output: string;
}
/** libpod/define/container_inspect.go InspectContainerState, the fields compared here. */
interface InspectState {
  Status: string;
  ExitCode?: number;
  Error?: string;
  /** Present in 4.3.1 even without a healthcheck (Status ""); upstream now declares it omitempty. */
  Health?: { Status: string; FailingStreak: number; Log: HealthLog[] | null };
}

export interface ContainerView {
  state: InspectState;
  /** The rest is only in the whole document, absent when only State was asked for. */
  imageName?: string;
  restartCount?: number;
  hasHealthcheck?: boolean;
}

const isState = (v: unknown): v is InspectState => typeof v === "object" && v !== null && typeof (v as InspectState).Status === "string";

/** The container in either recorded form, or undefined when stdout holds neither. */
export function parseInspect(stdout: string): ContainerView | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (isState(doc)) return { state: doc };
  const whole = Array.isArray(doc) ? (doc[0] as Record<string, unknown> | undefined) : undefined;
  if (!whole || !isState(whole.State)) return undefined;
  const config = whole.Config as { Healthcheck?: unknown } | undefined;
  return {
    state: whole.State,
    imageName: typeof whole.ImageName === "string" ? whole.ImageName : undefined,
    restartCount: typeof whole.RestartCount === "number" ? whole.RestartCount : undefined,
    hasHealthcheck: config ? config.Healthcheck !== undefined : undefined,
  };
}

// A person wants the check's last words, on one line: "wget: can't connect … refused".
function oneLine(text: string, max = 160): string {
  const flat = text.trim().replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** "(failing streak 3: <last check's output>)", or "" when there is nothing to add. */
function healthDetail(health: NonNullable<InspectState["Health"]>): string {
  const last = health.Log?.at(-1);
  const said = last ? oneLine(last.Output) || `exit ${last.ExitCode}` : "";
  if (health.FailingStreak > 0) return ` (failing streak ${health.FailingStreak}${said ? `: ${said}` : ""})`;
  return said ? ` (last check: ${said})` : "";
}

function stateDetail(state: InspectState): string {
  const parts: string[] = [];
  if (state.Status === "exited" || state.Status === "stopped") parts.push(`exit code ${state.ExitCode ?? "?"}`);
  if (state.Error) parts.push(state.Error);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

function checkHealth(name: string, want: string, view: ContainerView): string | undefined {
  const health = view.state.Health;
  const seen = health?.Status || "none";
  if (seen === want) return undefined;
  if (want === "none") return `expected no health status, saw health ${seen}`;
  if (health && seen !== "none") return `expected health ${want}, saw ${seen}${healthDetail(health)}`;
  // 4.3.1 prints Status "" both without a healthcheck and before the first one ran.
  if (view.hasHealthcheck === false) return `expected health ${want}, but ${name} defines no healthcheck`;
  if (view.hasHealthcheck) return `expected health ${want}, saw no health status yet: ${name}'s healthcheck has not run`;
  return `expected health ${want}, saw no health status: ${name} has no healthcheck, or it has not run yet`;
}

// A plain string reads better unquoted: "expected image x, saw y".
const wanted = (matcher: Matcher, expected: string) => (typeof matcher === "string" ? matcher : expected);

/** Pure verdict for `podman: { container: NAME, … }` on a `podman inspect` outcome. */
export function evaluateInspect(spec: PodmanSpec, name: string, seen: ProcessOutcome & { timeoutMs: number }): Verdict {
  const broken = processFailure(seen, seen.timeoutMs);
  if (broken) return { passed: false, summary: toolMissing(broken) ? broken : `podman inspect ${broken}` };
  const said = firstLine(seen.stderr);
  if (seen.exitCode !== 0) {
    // "no such object" (recorded, no --type) or "no such container NAME" (--type container).
    if (/no such (container|object)/.test(said)) return { passed: false, summary: `no container named ${name}: ${said}` };
    return { passed: false, summary: `podman inspect exited ${seen.exitCode}: ${said || "no output"}` };
  }
  const view = parseInspect(seen.stdout);
  if (!view) return { passed: false, summary: `podman inspect printed no container state for ${name}: ${preview(seen.stdout)}` };
  const { state } = view;
  const wantState = spec.state ?? "running";
  if (state.Status !== wantState) return { passed: false, summary: `expected state ${wantState}, saw ${state.Status}${stateDetail(state)}` };
  const unhealthy = spec.health ? checkHealth(name, spec.health, view) : undefined;
  if (unhealthy) return { passed: false, summary: unhealthy };
  const compared: [string, Matcher | undefined, string | number | undefined][] = [
    ["image", spec.image, view.imageName],
    ["restarts", spec.restarts, view.restartCount],
  ];
  for (const [field, matcher, value] of compared) {
    if (matcher === undefined) continue;
    const m = match(matcher, value ?? null);
    if (!m.ok) return { passed: false, summary: `expected ${field} ${wanted(matcher, m.expected)}, saw ${value ?? "nothing"}` };
  }
  const health = state.Health?.Status ? `, ${state.Health.Status}` : "";
  return { passed: true, summary: `${name} ${state.Status}${health}` };
}
