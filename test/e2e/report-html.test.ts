// The HTML report in a real headless browser: Debian's chromium (or FLEETGATE_CHROMIUM) driven by
// playwright-core. Without it the test skips, saying what to install; CI installs it and sets
// FLEETGATE_TEST_STRICT=1, where a missing browser fails instead.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { htmlReport } from "../../coordinator/reports/html.js";
import { needsTool, toolPath } from "../support/system-tools.js";
import { Status } from "../../shared/model/status.js";
import { largeRun } from "../support/large-run.js";
import { gateRun } from "../unit/run-report.fixture.js";

const CHROMIUM = process.env.FLEETGATE_CHROMIUM ?? "chromium";
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe.skipIf(!needsTool(CHROMIUM, "chromium"))("HTML report in headless Chromium", () => {
  let dir: string;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-report-"));
    const file = join(dir, "report.html");
    writeFileSync(file, htmlReport(gateRun(), judgeRun(gateRun())));
    url = pathToFileURL(file).href;
    // --no-sandbox: CI and these machines run tests as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: toolPath(CHROMIUM), args: ["--no-sandbox"], timeout: 30_000 });
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("opens with no error, shows the verdict, expands a failed cell, filters out passed rows, and prints to a screenshot", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("request", (r) => {
      if (!r.url().startsWith("file:")) problems.push(`network: ${r.url()}`);
    });
    await page.goto(url);

    const verdict = page.locator("#verdict");
    expect(await verdict.isVisible()).toBe(true);
    expect(await verdict.textContent()).toBe("NO-GO");

    // The fleet stage's node-b row; its cells are task, synced, http…: http failed on iteration 2.
    const cell = page.locator('tr.row:has(th:text-is("node-b")) td.cell.s-failed button').nth(1);
    const detail = page.locator(`#${await cell.getAttribute("aria-controls")}`);
    expect(await detail.isVisible()).toBe(false);
    await cell.click();
    expect(await detail.isVisible()).toBe(true);
    expect(await cell.getAttribute("aria-expanded")).toBe("true");
    const shown = await detail.innerText();
    expect(shown).toContain("expected status 200, saw 503");
    expect(shown).toContain("<html><script>alert(1)</script></html>");
    expect(shown).toContain("reproduce on node-b: fleetgate-agent check plans/suites/app.yaml --only http");

    const passedRows = page.locator('tr.row[data-status="passed"]');
    const failedRows = page.locator('tr.row[data-status="failed"]');
    expect(await passedRows.first().isVisible()).toBe(true);
    await page.locator('#filters input[name="status"][value="passed"]').uncheck();
    for (const row of await passedRows.all()) expect(await row.isVisible()).toBe(false);
    for (const row of await failedRows.all()) expect(await row.isVisible()).toBe(true);
    await page.locator('#filters input[name="q"]').fill("read-doc");
    expect(await page.locator('tr.row:has(th:text-is("read (reader → node-b)"))').isVisible()).toBe(true);
    expect(await page.locator('tr.row:has(th:text-is("node-b"))').isVisible()).toBe(false);
    expect(await page.locator("#shown").textContent()).toBe("1");

    const png = join(dir, "report.png");
    await page.screenshot({ path: png, fullPage: true });
    const bytes = readFileSync(png);
    expect(bytes.length).toBeGreaterThan(1000);
    expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);

    // Printed, every detail is open even though none but one was clicked.
    await page.emulateMedia({ media: "print" });
    expect(await page.locator(".detail").last().isVisible()).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("at 200 nodes: lists what did not pass first, filters by status and by text, with no network", async () => {
    const run = largeRun(200);
    const file = join(dir, "large.html");
    writeFileSync(file, htmlReport(run, judgeRun(run)));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("request", (r) => {
      if (!r.url().startsWith("file:")) problems.push(`network: ${r.url()}`);
    });
    await page.goto(pathToFileURL(file).href);
    expect(await page.locator("#verdict").textContent()).toBe("NO-GO");
    expect(await page.locator("#verdict").isVisible()).toBe(true);

    const rows = page.locator("tr.row");
    expect(await rows.count()).toBe(200);
    expect(await rows.first().getAttribute("data-status")).toBe("failed");
    const notPassed = run.tasks.filter((t) => t.status !== Status.PASSED || t.checks.some((c) => c.status !== Status.PASSED));
    const notPassedNodes = new Set(notPassed.map((t) => t.nodeName));

    // Passed unticked: exactly the nodes with something that did not pass stay, each visible.
    await page.locator('#filters input[name="status"][value="passed"]').uncheck();
    const visible = async () => (await page.locator("tr.row:visible").evaluateAll((els) => els.map((e) => e.getAttribute("data-node") ?? ""))).sort();
    expect(await visible()).toEqual([...notPassedNodes].sort());
    expect(await page.locator("#shown").textContent()).toBe(String(notPassedNodes.size));

    // Text: a line only failed checks print (their stderr tail), found in rows whose details are closed.
    await page.locator('#filters input[name="q"]').fill("giving up after 3 attempts");
    const failedNodes = new Set(run.tasks.filter((t) => t.checks.some((c) => c.status === Status.FAILED)).map((t) => t.nodeName));
    expect(await visible()).toEqual([...failedNodes].sort());

    // A node's name, with every status ticked again: that one row, a passing one shown collapsed.
    const passing = run.tasks.find((t) => !notPassedNodes.has(t.nodeName))?.nodeName ?? "";
    await page.locator('#filters input[name="status"][value="passed"]').check();
    await page.locator('#filters input[name="q"]').fill(passing);
    expect(await visible()).toEqual([passing]);
    expect(await page.locator("tr.row:visible td.all-passed").innerText()).toContain("20 checks × 5 iterations: all 100 results passed");

    // A not-ready node: its precondition cell opens on the chain's state and its hint.
    await page.locator('#filters input[name="q"]').fill("node-0007");
    const cell = page.locator('tr.row:visible td.cell.s-not_ready button').nth(1);
    await cell.click();
    const detail = page.locator(`#${await cell.getAttribute("aria-controls")}`);
    expect(await detail.isVisible()).toBe(true);
    expect(await detail.innerText()).toContain("hint: wait for the initial block download to finish");
    expect(problems).toEqual([]);
    await page.close();
  });
});
