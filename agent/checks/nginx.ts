import { nginxArgv, NginxSpecSchema, type NginxSpec } from "../../shared/model/kinds/nginx.js";
import { match, preview, type Matcher } from "../../shared/model/matchers.js";
import { runProcess, type ProcessOutcome } from "../process.js";
import { findLocations, splitDump, type FoundLocation } from "./nginx-dump.js";
import { firstLine, processFailure, spawnOptions, type CheckKind, type Verdict } from "./kind.js";

type Observed = ProcessOutcome & { timeoutMs: number };

// The argv is built in shared/ so the coordinator's dry run prints exactly what runs here.
export { nginxArgv };

/** nginx's reason for refusing the config, without the timestamp and pid#tid in front of it. */
export function emergLine(stderr: string): string | undefined {
  const line = stderr.split("\n").find((l) => l.includes("[emerg]"));
  return line?.slice(line.indexOf("[emerg]")).replace(/^\[emerg\] \d+#\d+: /, "[emerg] ");
}

// A plain target reads better unquoted: "expected http://127.0.0.1:18083/".
const wanted = (matcher: Matcher, expected: string) => (typeof matcher === "string" ? matcher : expected);

function locationsFor(spec: NginxSpec, all: FoundLocation[]): FoundLocation[] {
  const inServer = all.filter((l) => spec.server_name === undefined || l.serverNames.includes(spec.server_name));
  // "= /health" names the location with its modifier; "/app/lnd/" names it by its path alone.
  const exact = inServer.filter((l) => l.args.join(" ") === spec.location);
  return exact.length ? exact : inServer.filter((l) => l.args.at(-1) === spec.location);
}

function evaluateNginx(spec: NginxSpec, seen: Observed): Verdict {
  const broken = processFailure(seen, seen.timeoutMs);
  if (broken) return { passed: false, summary: broken };
  if (seen.exitCode !== 0) {
    const why = emergLine(seen.stderr) ?? firstLine(seen.stderr);
    return { passed: false, summary: `nginx refused its config (nginx -T exit ${seen.exitCode}): ${why}` };
  }
  const files = splitDump(seen.stdout);
  if (!files.length) return { passed: false, summary: `nginx -T printed no configuration dump: ${preview(seen.stdout)}` };
  let found: FoundLocation[];
  try {
    found = locationsFor(spec, findLocations(files));
  } catch (err) {
    return { passed: false, summary: `could not read the nginx -T dump: ${(err as Error).message}` };
  }
  const where = spec.server_name !== undefined ? ` for server_name ${spec.server_name}` : "";
  if (!found.length) return { passed: false, summary: `no location ${spec.location}${where} in the nginx config` };
  // Every copy must agree: a stale target in the :80 server is as broken as one in the :443 server.
  for (const loc of found) {
    const m = match(spec.proxy_pass, loc.proxyPass ?? null);
    if (m.ok) continue;
    const saw = loc.proxyPass === undefined ? "has no proxy_pass" : `proxies to ${loc.proxyPass}`;
    return { passed: false, summary: `location ${spec.location} ${saw}, expected ${wanted(spec.proxy_pass, m.expected)} (in ${loc.file})` };
  }
  const inFiles = [...new Set(found.map((l) => l.file))].join(", ");
  return { passed: true, summary: `location ${spec.location} proxies to ${found[0]?.proxyPass} (in ${inFiles})` };
}

export const nginxCheck: CheckKind<NginxSpec, Observed> = {
  kind: "nginx",
  schema: NginxSpecSchema,
  async observe(spec, ctx) {
    const outcome = await runProcess({ argv: nginxArgv(spec), timeoutMs: ctx.timeoutMs, ...spawnOptions(ctx) });
    return { ...outcome, timeoutMs: ctx.timeoutMs };
  },
  evaluate: evaluateNginx,
  evidence: (seen) => ({ stdout: seen.stdout, stderr: seen.stderr }),
};
