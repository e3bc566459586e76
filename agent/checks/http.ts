import { curlArgv, HttpSpecSchema, type HttpSpec } from "../../shared/model/kinds/http.js";
import { match, preview } from "../../shared/model/matchers.js";
import { runProcess, type ProcessOutcome } from "../process.js";
import { jsonPath } from "./json-path.js";
import { firstLine, processFailure, spawnOptions, type CheckKind, type Verdict } from "./kind.js";

// The argv is built in shared/ so the coordinator's dry run prints exactly what runs here.
export { curlArgv };

export interface HttpResponse {
  status: number;
  seconds: number;
  body: string;
}

/** Splits curl's stdout into body and the write-out line; undefined if the line is absent. */
export function parseCurlOutput(stdout: string): HttpResponse | undefined {
  const trimmed = stdout.endsWith("\n") ? stdout.slice(0, -1) : stdout;
  const cut = trimmed.lastIndexOf("\n");
  const tail = trimmed.slice(cut + 1);
  const m = /^(\d{3}) (\d+(?:\.\d+)?)$/.exec(tail);
  if (!m || cut < 0) return undefined;
  return { status: Number(m[1]), seconds: Number(m[2]), body: trimmed.slice(0, cut) };
}

type Observed = ProcessOutcome & { timeoutMs: number };

function evaluateHttp(spec: HttpSpec, seen: Observed): Verdict {
  const broken = processFailure(seen, seen.timeoutMs);
  if (broken) return { passed: false, summary: broken };
  const response = parseCurlOutput(seen.stdout);
  const curlError = firstLine(seen.stderr);
  if (!response || response.status === 0) {
    return { passed: false, summary: `no HTTP response from ${spec.url}: ${curlError || `curl exit ${seen.exitCode}`}` };
  }
  const status = match(spec.status ?? 200, response.status);
  if (!status.ok) return { passed: false, summary: `expected status ${status.expected}, saw ${response.status} from ${spec.url}` };
  if (spec.body !== undefined) {
    // As with command stdout, one trailing newline is not part of the value (`body: ok`).
    const body = match(spec.body, response.body.replace(/\n$/, ""));
    if (!body.ok) return { passed: false, summary: `expected body ${body.expected}, saw ${preview(response.body)}` };
  }
  if (spec.json) {
    let doc: unknown;
    try {
      doc = JSON.parse(response.body);
    } catch {
      return { passed: false, summary: `expected a JSON body, saw ${preview(response.body)}` };
    }
    for (const [path, want] of Object.entries(spec.json)) {
      const value = jsonPath(doc, path);
      const m = match(want, value ?? null);
      if (!m.ok) return { passed: false, summary: `expected ${path} ${m.expected}, saw ${preview(value ?? null)}` };
    }
  }
  return { passed: true, summary: `${response.status} in ${Math.round(response.seconds * 1000)} ms` };
}

export const httpCheck: CheckKind<HttpSpec, Observed> = {
  kind: "http",
  schema: HttpSpecSchema,
  async observe(spec, ctx) {
    // curl enforces the timeout itself; the process timeout is a backstop a little later.
    const outcome = await runProcess({ argv: curlArgv(spec, ctx.timeoutMs), timeoutMs: ctx.timeoutMs + 2000, ...spawnOptions(ctx) });
    return { ...outcome, timeoutMs: ctx.timeoutMs };
  },
  evaluate: evaluateHttp,
  evidence: (seen) => ({ stdout: parseCurlOutput(seen.stdout)?.body ?? seen.stdout, stderr: seen.stderr }),
};
