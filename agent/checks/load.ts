import { loadavg } from "node:os";
import { checkNumberBounds, showMeasured } from "../../shared/model/bounds.js";
import { LoadSpecSchema, type LoadSpec } from "../../shared/model/kinds/load.js";
import type { CheckKind, Verdict } from "./kind.js";

export interface LoadObserved {
  load1: number;
  load5: number;
  load15: number;
}

export function measureLoad(): LoadObserved {
  const [load1 = 0, load5 = 0, load15 = 0] = loadavg();
  return { load1, load5, load15 };
}

const FIELDS = ["load1", "load5", "load15"] as const;

function evaluateLoad(spec: LoadSpec, seen: LoadObserved): Verdict {
  for (const field of FIELDS) {
    const bounds = spec[field];
    if (!bounds) continue;
    const m = checkNumberBounds(bounds, seen[field]);
    if (!m.ok) return { passed: false, summary: `expected ${field} ${m.expected}, saw ${showMeasured(seen[field], m)}` };
  }
  return { passed: true, summary: `load ${FIELDS.map((f) => seen[f].toFixed(2)).join(" ")}` };
}

export const loadCheck: CheckKind<LoadSpec, LoadObserved> = {
  kind: "load",
  schema: LoadSpecSchema,
  observe: async () => measureLoad(),
  evaluate: evaluateLoad,
  evidence: (seen) => ({ stdout: `${JSON.stringify(seen)}\n`, stderr: "" }),
};
