import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { tokenize, parseConfig } from "../../agent/checks/nginx-config.js";
import { findLocations, splitDump } from "../../agent/checks/nginx-dump.js";
import { nginxArgv, nginxCheck } from "../../agent/checks/nginx.js";
import type { ProcessOutcome } from "../../agent/process.js";
import { NginxSpecSchema, type NginxSpec } from "../../shared/model/kinds/nginx.js";
import { onPathEachTest } from "../fakes/on-path.js";
import { FIXTURES, type FakeTools } from "../fakes/scenario.js";
import { needsTool } from "../support/system-tools.js";

const fixture = (rel: string) => readFileSync(join(FIXTURES, "nginx", rel), "utf8");
/** A recorded run: NAME.stdout, NAME.stderr and NAME.rc, as runProcess would return it. */
const recorded = (name: string): ProcessOutcome & { timeoutMs: number } => ({
  exitCode: Number(fixture(`${name}.rc`)), signal: null, stdout: fixture(`${name}.stdout`), stderr: fixture(`${name}.stderr`),
  timedOut: false, durationMs: 20, timeoutMs: 10_000,
});
const spec = (block: Record<string, unknown>) => NginxSpecSchema.parse(block);
/** The archy-node precondition (test/examples/archy-node.suite.yaml). */
const LND = spec({ location: "/app/lnd/", proxy_pass: "http://127.0.0.1:18083/" });

describe("nginx spec and argv", () => {
  it("accepts the archy-node block and refuses unknown fields or a missing proxy_pass", () => {
    expect(LND).toEqual({ location: "/app/lnd/", proxy_pass: "http://127.0.0.1:18083/" });
    expect(NginxSpecSchema.safeParse({ location: "/app/lnd/" }).success).toBe(false);
    expect(NginxSpecSchema.safeParse({ ...LND, upstream: "x" }).success).toBe(false);
  });

  it("runs nginx -T, with -c only when the suite names a config", () => {
    expect(nginxArgv(LND)).toEqual(["nginx", "-T"]);
    expect(nginxArgv({ ...LND, config: "/etc/nginx/nginx.conf" })).toEqual(["nginx", "-T", "-c", "/etc/nginx/nginx.conf"]);
  });
});

describe("reading the recorded nginx -T dump", () => {
  it("splits the dump into the files nginx loaded, each exactly as on disk", () => {
    const files = splitDump(fixture("nginx-T-ok.stdout"));
    expect(files.map((f) => f.path)).toEqual(["/etc/nginx/nginx.conf", "/etc/nginx/sites-enabled/node.conf"]);
    expect(files[1]?.text.trimEnd()).toBe(fixture("input-sites-node.conf").trimEnd());
  });

  it("finds every location with its proxy_pass, file, line and server_name", () => {
    const found = findLocations(splitDump(fixture("nginx-T-ok.stdout")));
    const node = "/etc/nginx/sites-enabled/node.conf";
    expect(found).toEqual([
      { args: ["/app/lnd/"], proxyPass: "http://127.0.0.1:18083/", file: node, line: 5, serverNames: ["_"] },
      { args: ["/app/mempool/"], proxyPass: "http://127.0.0.1:18084/", file: node, line: 10, serverNames: ["_"] },
      { args: ["/"], proxyPass: undefined, file: node, line: 14, serverNames: ["_"] },
    ]);
  });

  it("tokenizes quoted strings, escapes, ${variables} and comments the way nginx does", () => {
    const words = tokenize('add_header X-A "a;b \\"c\\"" ; # proxy_pass x;\nset $u \'${host}{\';\nreturn 200 ${scheme}://x;').map((t) => t.text);
    expect(words).toEqual(["add_header", "X-A", 'a;b "c"', ";", "set", "$u", "${host}{", ";", "return", "200", "${scheme}://x", ";"]);
  });

  it("refuses text whose braces do not balance, naming the line", () => {
    expect(() => parseConfig("server {\n  location / { }\n}\n}\n")).toThrow('unexpected "}" on line 4');
    expect(() => parseConfig("http { server {")).toThrow("unexpected end of file");
  });
});

describe("nginxCheck.evaluate on recorded nginx -T output", () => {
  const ok = recorded("nginx-T-ok");

  it("passes when /app/lnd/ proxies to the lnd-ui port", () => {
    expect(nginxCheck.evaluate(LND, ok)).toEqual({
      passed: true,
      summary: "location /app/lnd/ proxies to http://127.0.0.1:18083/ (in /etc/nginx/sites-enabled/node.conf)",
    });
  });

  it("fails a stale target, saying where it points and in which file", () => {
    const expectsOldPort = spec({ location: "/app/lnd/", proxy_pass: "http://127.0.0.1:18080/" });
    // The recorded config is the node; the suite expecting 18080 makes the 18083 in it the stale side.
    expect(nginxCheck.evaluate(expectsOldPort, ok)).toEqual({
      passed: false,
      summary: "location /app/lnd/ proxies to http://127.0.0.1:18083/, expected http://127.0.0.1:18080/ (in /etc/nginx/sites-enabled/node.conf)",
    });
    expect(nginxCheck.evaluate(spec({ location: "/app/lnd/", proxy_pass: { matches: ":1808[0-2]/$" } }), ok).summary).toBe(
      "location /app/lnd/ proxies to http://127.0.0.1:18083/, expected matching /:1808[0-2]/$/ (in /etc/nginx/sites-enabled/node.conf)",
    );
  });

  it("fails a location with no proxy_pass, and one that is absent from the config", () => {
    expect(nginxCheck.evaluate(spec({ location: "/", proxy_pass: "http://127.0.0.1:80/" }), ok).summary).toBe(
      "location / has no proxy_pass, expected http://127.0.0.1:80/ (in /etc/nginx/sites-enabled/node.conf)",
    );
    expect(nginxCheck.evaluate(spec({ location: "/app/rtl/", proxy_pass: "http://127.0.0.1:3000/" }), ok)).toEqual({
      passed: false,
      summary: "no location /app/rtl/ in the nginx config",
    });
  });

  it("looks only inside servers with the given server_name", () => {
    expect(nginxCheck.evaluate({ ...LND, server_name: "_" }, ok).passed).toBe(true);
    expect(nginxCheck.evaluate({ ...LND, server_name: "node.example" }, ok).summary).toBe("no location /app/lnd/ for server_name node.example in the nginx config");
  });

  it("quotes nginx's [emerg] line when the config does not parse", () => {
    expect(nginxCheck.evaluate(LND, recorded("nginx-T-syntax-error"))).toEqual({
      passed: false,
      summary: 'nginx refused its config (nginx -T exit 1): [emerg] "location" directive is not allowed here in /etc/nginx/sites-enabled/node.conf:11',
    });
  });
});

describe("nginxCheck observe + evaluate through a fake nginx replaying the fixtures", () => {
  const installFakes = onPathEachTest();
  let fakes: FakeTools;
  const ctx = { timeoutMs: 10_000, maxOutputBytes: 1024 * 1024 };
  const run = async (s: NginxSpec) => nginxCheck.evaluate(s, await nginxCheck.observe(s, ctx));

  beforeEach(() => {
    fakes = installFakes(["nginx"], [{ tool: "nginx", args: "^-T -c /etc/nginx/nginx.conf$", fixture: "nginx/nginx-T-ok" }]);
  });

  it("runs nginx -T -c CONFIG and passes the recorded config", async () => {
    expect(await run({ ...LND, config: "/etc/nginx/nginx.conf" })).toMatchObject({ passed: true });
    expect(fakes.calls()).toEqual([{ tool: "nginx", args: ["-T", "-c", "/etc/nginx/nginx.conf"] }]);
  });

  it("fails a stale target and a syntax error from the replayed output", async () => {
    expect((await run({ location: "/app/lnd/", proxy_pass: "http://127.0.0.1:18080/", config: "/etc/nginx/nginx.conf" })).summary).toMatch(
      /^location \/app\/lnd\/ proxies to http:\/\/127\.0\.0\.1:18083\/, expected http:\/\/127\.0\.0\.1:18080\//,
    );
    fakes.setRules([{ tool: "nginx", args: "^-T$", fixture: "nginx/nginx-T-syntax-error" }]);
    expect((await run(LND)).summary).toMatch(/\[emerg\] "location" directive is not allowed here/);
    expect(fakes.calls().at(-1)).toEqual({ tool: "nginx", args: ["-T"] });
  });
});

// The real nginx (Debian package nginx; CI installs it). pid, error_log and access_log point
// into the temp folder so nginx -T works without root and touches nothing of the host's nginx.
describe.skipIf(!needsTool("nginx", "nginx"))("nginxCheck against the real nginx", () => {
  let dir: string;
  const ctx = { timeoutMs: 15_000, maxOutputBytes: 1024 * 1024 };
  const run = async (s: NginxSpec) => nginxCheck.evaluate(s, await nginxCheck.observe(s, ctx));
  const site = (target: string) =>
    `server {\n    listen 127.0.0.1:8088;\n    server_name node.test;\n    location /app/lnd/ {\n        proxy_pass ${target};\n    }\n}\n`;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-nginx-"));
    mkdirSync(join(dir, "sites"));
    writeFileSync(
      join(dir, "nginx.conf"),
      `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {\n    worker_connections 16;\n}\nhttp {\n    access_log off;\n    include sites/*.conf;\n}\n`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes when the location proxies to the expected target, following a relative include", async () => {
    writeFileSync(join(dir, "sites", "node.conf"), site("http://127.0.0.1:18083/"));
    const v = await run({ ...LND, config: join(dir, "nginx.conf"), server_name: "node.test" });
    expect(v).toEqual({ passed: true, summary: `location /app/lnd/ proxies to http://127.0.0.1:18083/ (in ${dir}/sites/node.conf)` });
  });

  it("fails a stale target", async () => {
    writeFileSync(join(dir, "sites", "node.conf"), site("http://127.0.0.1:18080/"));
    expect(await run({ ...LND, config: join(dir, "nginx.conf") })).toEqual({
      passed: false,
      summary: `location /app/lnd/ proxies to http://127.0.0.1:18080/, expected http://127.0.0.1:18083/ (in ${dir}/sites/node.conf)`,
    });
  });

  it("attributes a location kept in a snippet included inside a server to that server", async () => {
    writeFileSync(join(dir, "lnd.location"), "location /app/lnd/ {\n    proxy_pass http://127.0.0.1:18083/;\n}\n");
    writeFileSync(join(dir, "sites", "node.conf"), "server {\n    listen 127.0.0.1:8088;\n    server_name node.test;\n    include lnd.location;\n}\n");
    const config = join(dir, "nginx.conf");
    expect(await run({ ...LND, config, server_name: "node.test" })).toMatchObject({ passed: true, summary: expect.stringContaining(`(in ${dir}/lnd.location)`) });
    expect((await run({ ...LND, config, server_name: "other.test" })).summary).toBe("no location /app/lnd/ for server_name other.test in the nginx config");
  });

  it("quotes the [emerg] line of a config nginx refuses", async () => {
    writeFileSync(join(dir, "sites", "node.conf"), `${site("http://127.0.0.1:18083/")}}\n`);
    const v = await run({ ...LND, config: join(dir, "nginx.conf") });
    expect(v.passed).toBe(false);
    expect(v.summary).toBe(`nginx refused its config (nginx -T exit 1): [emerg] unexpected "}" in ${dir}/sites/node.conf:8`);
  });
});
