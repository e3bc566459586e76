// Alerts (coordinator/alerts/): a JSON file per alert under STATE_DIR/alerts/ and a POST to each
// webhook, retried with backoff, deduplicated by (kind, subject) within the window, and a resolved
// alert when the condition clears. A real HTTP server on 127.0.0.1 receives the webhooks; the
// backoff's sleep and the clock are injected, so nothing waits.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Alerts, type Webhook } from "../../coordinator/alerts/alerts.js";
import { backoffMs, DEFAULT_RETRY } from "../../coordinator/alerts/delivery.js";
import type { AlertRecord } from "../../coordinator/alerts/record.js";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers each POST with the next status of `statuses` (the last one repeated). */
async function receiver(statuses: number[]): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = statuses[Math.min(n++, statuses.length - 1)] ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

describe("alerts", () => {
  let dir: string;
  let servers: Server[];
  let now: number;
  let slept: number[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "fg-alerts-"));
    servers = [];
    now = Date.parse("2026-11-29T03:00:00Z");
    slept = [];
  });
  afterEach(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  const alertsWith = (webhooks: Webhook[], dedupWindowMs = 3_600_000) =>
    new Alerts({ stateDir: dir, webhooks, dedupWindowMs, log: pino({ level: "silent" }), now: () => now, sleep: async (ms) => void slept.push(ms) });
  const files = (): AlertRecord[] => readdirSync(join(dir, "alerts")).filter((f) => f.endsWith(".json")).sort().map((f) => JSON.parse(readFileSync(join(dir, "alerts", f), "utf8")) as AlertRecord);

  it("delivers one alert per condition through two 500s, with backoff, and one resolved alert when it clears", async () => {
    const hook = await receiver([500, 500, 200]);
    servers.push(hook.server);
    const alerts = alertsWith([{ url: `${hook.url}/hook`, format: "json" }]);
    alerts.raise({ kind: "node_offline", subject: "node-b", summary: "node-b went offline", details: { run: "r1" } });
    alerts.raise({ kind: "node_offline", subject: "node-b", summary: "node-b went offline" });
    await alerts.drain();
    expect(hook.received).toHaveLength(3);
    expect(slept).toEqual([backoffMs(DEFAULT_RETRY, 2), backoffMs(DEFAULT_RETRY, 3)]);
    expect(slept).toEqual([1000, 2000]);
    const sent = JSON.parse(hook.received[2]!.body) as { event: string; alert: { kind: string; subject: string } };
    expect(sent).toMatchObject({ event: "raised", alert: { kind: "node_offline", subject: "node-b" } });
    let [file] = files();
    expect(file).toMatchObject({ state: "open", repeats: 1, deliveries: [{ event: "raised", state: "delivered", attempts: 3, lastError: "" }] });

    alerts.resolve("node_offline", "node-b", "node-b is back online");
    alerts.resolve("node_offline", "node-b", "node-b is back online");
    await alerts.drain();
    expect(hook.received).toHaveLength(4);
    expect(JSON.parse(hook.received[3]!.body)).toMatchObject({ event: "resolved", text: "RESOLVED node_offline node-b: node-b is back online" });
    [file] = files();
    expect(file).toMatchObject({ state: "resolved", resolvedSummary: "node-b is back online" });
    expect(file!.deliveries.map((d) => [d.event, d.state])).toEqual([["raised", "delivered"], ["resolved", "delivered"]]);
  });

  it("sends an open alert again only once the dedup window has passed", async () => {
    const hook = await receiver([200]);
    servers.push(hook.server);
    const alerts = alertsWith([{ url: hook.url, format: "slack" }], 60_000);
    alerts.raise({ kind: "evidence_disk_low", subject: "/var/lib/fleetgate/runs", summary: "12 MiB free" });
    now += 59_999;
    alerts.raise({ kind: "evidence_disk_low", subject: "/var/lib/fleetgate/runs", summary: "11 MiB free" });
    await alerts.drain();
    expect(hook.received.map((r) => JSON.parse(r.body))).toEqual([{ text: "ALERT evidence_disk_low /var/lib/fleetgate/runs: 12 MiB free" }]);
    now += 1;
    alerts.raise({ kind: "evidence_disk_low", subject: "/var/lib/fleetgate/runs", summary: "10 MiB free" });
    // Another subject of the same kind is another alert.
    alerts.raise({ kind: "evidence_disk_low", subject: "/srv/evidence", summary: "1 MiB free" });
    await alerts.drain();
    expect(hook.received.map((r) => JSON.parse(r.body).text)).toEqual([
      "ALERT evidence_disk_low /var/lib/fleetgate/runs: 12 MiB free",
      "ALERT evidence_disk_low /var/lib/fleetgate/runs: 10 MiB free",
      "ALERT evidence_disk_low /srv/evidence: 1 MiB free",
    ]);
    expect(files().map((f) => [f.subject, f.repeats])).toEqual([["/var/lib/fleetgate/runs", 2], ["/srv/evidence", 0]]);
  });

  it("posts ntfy's plain text body with Title, Priority and Tags headers", async () => {
    const hook = await receiver([200]);
    servers.push(hook.server);
    const alerts = alertsWith([{ url: `${hook.url}/fleetgate-alerts`, format: "ntfy" }]);
    alerts.raise({ kind: "run_no_go", subject: "gate", summary: "run 20261129-0300-ab12 of plan gate is NO-GO", details: { run: "20261129-0300-ab12" } });
    await alerts.drain();
    const [got] = hook.received;
    expect(got!.path).toBe("/fleetgate-alerts");
    expect(got!.headers).toMatchObject({ title: "fleetgate alert: run_no_go gate", priority: "high", tags: "warning,fleetgate" });
    expect(got!.body).toBe("run 20261129-0300-ab12 of plan gate is NO-GO\nrun: 20261129-0300-ab12");
  });

  it("gives up after the bounded attempts and says so in the alert file", async () => {
    const hook = await receiver([503]);
    servers.push(hook.server);
    const alerts = new Alerts({ stateDir: dir, webhooks: [{ url: hook.url, format: "json" }], log: pino({ level: "silent" }), now: () => now, sleep: async (ms) => void slept.push(ms), retry: { ...DEFAULT_RETRY, attempts: 4 } });
    alerts.raise({ kind: "node_lost", subject: "node-c", summary: "node-c lost" });
    await alerts.drain();
    expect(hook.received).toHaveLength(4);
    expect(slept).toEqual([1000, 2000, 4000]);
    expect(files()[0]!.deliveries).toMatchObject([{ state: "failed", attempts: 4, lastError: "HTTP 503" }]);
  });

  it("keeps open alerts across a restart: the same condition is not alerted twice", async () => {
    const hook = await receiver([200]);
    servers.push(hook.server);
    const before = alertsWith([{ url: hook.url, format: "json" }]);
    before.raise({ kind: "node_offline", subject: "node-a", summary: "node-a went offline" });
    await before.drain();
    const again = alertsWith([{ url: hook.url, format: "json" }]);
    again.raise({ kind: "node_offline", subject: "node-a", summary: "node-a went offline" });
    await again.drain();
    expect(hook.received).toHaveLength(1);
    expect(again.list().map((a) => [a.state, a.subject, a.repeats])).toEqual([["open", "node-a", 1]]);
  });

  it("sends again at start a delivery a stop cut short, and marks the cut one failed", async () => {
    const hook = await receiver([500, 200]);
    servers.push(hook.server);
    const webhooks: Webhook[] = [{ url: hook.url, format: "json" }];
    // The first coordinator's backoff never ends: it stops with the delivery pending.
    const stopped = new Alerts({ stateDir: dir, webhooks, log: pino({ level: "silent" }), now: () => now, sleep: () => new Promise(() => {}) });
    stopped.raise({ kind: "node_lost", subject: "node-d", summary: "node-d lost" });
    // Files are written off the caller's path: the first may not be there yet.
    const attempts = () => (existsSync(join(dir, "alerts")) ? (files()[0]?.deliveries[0]?.attempts ?? 0) : 0);
    for (let i = 0; i < 100 && attempts() < 1; i++) await new Promise((r) => setTimeout(r, 20));
    await stopped.close();
    expect(files()[0]!.deliveries).toMatchObject([{ state: "pending", attempts: 1, lastError: "HTTP 500" }]);
    const next = alertsWith(webhooks);
    await next.drain();
    expect(files()[0]!.deliveries).toMatchObject([
      { event: "raised", state: "failed", lastError: "HTTP 500" },
      { event: "raised", state: "delivered", attempts: 1 },
    ]);
    expect(hook.received).toHaveLength(2);
  });

  it("deletes resolved alerts older than 30 days at start, and keeps open ones however old", async () => {
    const alerts = alertsWith([]);
    alerts.raise({ kind: "node_offline", subject: "old-open", summary: "offline since long ago" });
    alerts.raise({ kind: "node_offline", subject: "old-resolved", summary: "offline" });
    alerts.resolve("node_offline", "old-resolved", "back");
    now += 29 * 86_400_000;
    alerts.raise({ kind: "node_offline", subject: "recent", summary: "offline" });
    alerts.resolve("node_offline", "recent", "back");
    // The coordinator stops (its files written), and starts again two days later.
    await alerts.close();
    now += 2 * 86_400_000;
    expect(alertsWith([]).list().map((a) => `${a.state} ${a.subject}`)).toEqual(["open old-open", "resolved recent"]);
    expect(files().map((f) => f.subject).sort()).toEqual(["old-open", "recent"]);
  });

  it("writes the alert file even with no webhook configured, and lists open alerts before resolved ones", async () => {
    const alerts = alertsWith([]);
    alerts.raise({ kind: "node_offline", subject: "node-a", summary: "node-a went offline" });
    now += 1000;
    alerts.raise({ kind: "node_offline", subject: "node-b", summary: "node-b went offline" });
    alerts.resolve("node_offline", "node-a", "node-a is back online");
    expect(alerts.list().map((a) => `${a.state} ${a.subject}`)).toEqual(["open node-b", "resolved node-a"]);
    await alerts.close();
    expect(files().map((f) => `${f.state} ${f.subject}`)).toEqual(["resolved node-a", "open node-b"]);
    expect(readdirSync(join(dir, "alerts")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});
