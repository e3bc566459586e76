// The http check's pure half, against curl 7.88.1 output recorded in test/fixtures/curl/.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { curlArgv, httpCheck, parseCurlOutput } from "../../agent/checks/http.js";
import type { ProcessOutcome } from "../../agent/process.js";
import type { HttpSpec } from "../../shared/model/kinds/http.js";

const CURL_FIXTURES = fileURLToPath(new URL("../fixtures/curl/", import.meta.url));

function fixture(name: string): string {
  return readFileSync(CURL_FIXTURES + name, "utf8");
}

/** One recorded run: NAME.stdout, NAME.stderr and NAME.rc, verbatim. */
function recorded(name: string): { stdout: string; stderr: string; rc: number } {
  return { stdout: fixture(`${name}.stdout`), stderr: fixture(`${name}.stderr`), rc: Number(fixture(`${name}.rc`).trim()) };
}

function outcome(stdout: string, stderr: string, exitCode: number): ProcessOutcome & { timeoutMs: number } {
  return { exitCode, signal: null, stdout, stderr, timedOut: false, durationMs: 3, timeoutMs: 5000 };
}

/**
 * Our write-out puts "CODE SECONDS" on its own line after the body. The `-w '%{http_code}
 * %{time_total}'` fixtures were recorded without those newlines, so for runs with no response we
 * wrap the recorded write-out in them; curl 7.88.1 prints exactly that ("\n000 0.000268\n",
 * checked by hand against a closed port) and the error line on stderr, since we pass -sS.
 */
function withOurWriteOut(body: string, recordedWriteOut: string): string {
  return `${body}\n${recordedWriteOut}\n`;
}

describe("curlArgv", () => {
  it("asks curl for the same write-out as the recorded http200-body-w run", () => {
    const cmd = fixture("http200-body-w.cmd");
    const recordedW = /-w '([^']*)'/.exec(cmd)?.[1];
    expect(recordedW).toBe("\\n%{http_code} %{time_total}\\n");
    const argv = curlArgv({ url: "http://127.0.0.1:18200/health" }, 5000);
    // The shell passed "\n" as two characters and curl expanded it; we pass the newline itself.
    expect(argv[argv.indexOf("-w") + 1]).toBe(recordedW?.replaceAll("\\n", "\n"));
    expect(argv.slice(0, 2)).toEqual(["curl", "-sS"]);
  });

  it("bounds the request with --max-time in whole seconds, rounded up", () => {
    const argv = curlArgv({ url: "http://h/" }, 2500);
    expect(argv[argv.indexOf("--max-time") + 1]).toBe("3");
    const short = curlArgv({ url: "http://h/" }, 200);
    expect(short[short.indexOf("--max-time") + 1]).toBe("1");
  });

  it("puts the URL last, after --, so a URL cannot be read as an option", () => {
    const argv = curlArgv({ url: "-K/etc/passwd" }, 1000);
    expect(argv.slice(-2)).toEqual(["--", "-K/etc/passwd"]);
  });

  it("adds method, headers, body and -k as the spec says", () => {
    const argv = curlArgv(
      { url: "https://h/api", method: "POST", headers: { "Content-Type": "application/json" }, body_send: '{"a":1}', insecure: true },
      1000,
    );
    expect(argv.join(" ")).toContain('-X POST -H Content-Type: application/json --data-binary {"a":1} -k -- https://h/api');
  });

  it("asks for headers only with -I for HEAD, and adds nothing for GET", () => {
    expect(curlArgv({ url: "http://h/", method: "HEAD" }, 1000)).toContain("-I");
    const get = curlArgv({ url: "http://h/", method: "GET" }, 1000);
    expect(get).not.toContain("-X");
    expect(get).not.toContain("-I");
  });
});

describe("parseCurlOutput", () => {
  it("splits the recorded http200-body-w output into body, status and time", () => {
    expect(parseCurlOutput(recorded("http200-body-w").stdout)).toEqual({ status: 200, seconds: 0.000879, body: "ok\n" });
  });

  it("reads a body with no final newline and an empty body", () => {
    expect(parseCurlOutput("ok\n204 0.001\n")).toEqual({ status: 204, seconds: 0.001, body: "ok" });
    expect(parseCurlOutput("\n204 0.001\n")).toEqual({ status: 204, seconds: 0.001, body: "" });
  });

  it("reads 000 when curl got no response", () => {
    const stdout = withOurWriteOut("", recorded("conn-refused-w").stdout);
    expect(stdout).toBe("\n000 0.000311\n");
    expect(parseCurlOutput(stdout)).toEqual({ status: 0, seconds: 0.000311, body: "" });
  });

  it("finds no write-out line in output recorded without one", () => {
    expect(parseCurlOutput(recorded("http500-nof").stdout)).toBeUndefined();
    expect(parseCurlOutput(recorded("conn-refused").stdout)).toBeUndefined();
    expect(parseCurlOutput(recorded("http200-w").stdout)).toBeUndefined();
  });
});

describe("httpCheck.evaluate on recorded curl runs", () => {
  const health = "http://127.0.0.1:18200/health";

  it("passes a 200 whose body contains what the spec asks, with the time taken", () => {
    const r = recorded("http200-body-w");
    const spec: HttpSpec = { url: health, status: 200, body: { contains: "ok" } };
    expect(httpCheck.evaluate(spec, outcome(r.stdout, r.stderr, r.rc))).toEqual({ passed: true, summary: "200 in 1 ms" });
  });

  it("expects 200 when the spec names no status", () => {
    const r = recorded("http200-body-w");
    expect(httpCheck.evaluate({ url: health }, outcome(r.stdout, r.stderr, r.rc)).passed).toBe(true);
  });

  it("fails a body that does not match, showing the body it saw", () => {
    const r = recorded("http200-body-w");
    expect(httpCheck.evaluate({ url: health, body: "ready" }, outcome(r.stdout, r.stderr, r.rc))).toEqual({
      passed: false,
      summary: 'expected body "ready", saw "ok\\n"',
    });
  });

  it("fails a 500 where 200 is expected, naming the URL", () => {
    // curl without -f exits 0 on a 500 (http500-nof); with our -w the status line follows the body.
    const body = recorded("http500-nof");
    const stdout = withOurWriteOut(body.stdout, recorded("http500-f-w").stdout);
    const url = "http://127.0.0.1:18500/health";
    expect(httpCheck.evaluate({ url }, outcome(stdout, body.stderr, body.rc))).toEqual({
      passed: false,
      summary: `expected status 200, saw 500 from ${url}`,
    });
    expect(httpCheck.evaluate({ url, status: 500, body: { contains: '"internal"' } }, outcome(stdout, body.stderr, body.rc)).passed).toBe(true);
  });

  it.each([
    ["conn-refused", "http://127.0.0.1:1/", "curl: (7) Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server"],
    ["dns-fail", "http://node.invalid/", "curl: (6) Could not resolve host: node.invalid"],
    ["timeout-max-time", "http://127.0.0.1:18600/", "curl: (28) Operation timed out after 2002 milliseconds with 0 bytes received"],
  ])("says there was no HTTP response on %s, with curl's own error line", (name, url, curlLine) => {
    const r = recorded(name);
    const stdout = withOurWriteOut("", recorded(`${name}-w`).stdout);
    expect(httpCheck.evaluate({ url }, outcome(stdout, r.stderr, r.rc))).toEqual({
      passed: false,
      summary: `no HTTP response from ${url}: ${curlLine}`,
    });
  });

  it.each(["conn-refused", "dns-fail", "timeout-max-time"])("says there was no HTTP response on the verbatim %s recording", (name) => {
    const r = recorded(name);
    const v = httpCheck.evaluate({ url: "http://x/", status: { gte: 0 } }, outcome(r.stdout, r.stderr, r.rc));
    expect(v).toEqual({ passed: false, summary: `no HTTP response from http://x/: ${r.stderr.trim()}` });
  });

  it("falls back to curl's exit code when curl printed no error (-s without -S)", () => {
    const r = recorded("conn-refused-silent");
    expect(r.stderr).toBe("");
    expect(httpCheck.evaluate({ url: "http://127.0.0.1:1/" }, outcome(r.stdout, r.stderr, r.rc)).summary).toBe(
      "no HTTP response from http://127.0.0.1:1/: curl exit 7",
    );
  });

  it("reports curl missing from the node as could not start", () => {
    const seen = { ...outcome("", "", 0), exitCode: null, spawnError: "spawn curl ENOENT" };
    expect(httpCheck.evaluate({ url: health }, seen)).toEqual({ passed: false, summary: "curl is not installed on this node" });
  });

  it("keeps the body, without the write-out line, as evidence", () => {
    const r = recorded("http200-body-w");
    expect(httpCheck.evidence(outcome(r.stdout, r.stderr, r.rc))).toEqual({ stdout: "ok\n", stderr: "" });
  });
});
