import { describe, expect, it } from "vitest";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { esc, htmlReport } from "../../coordinator/reports/html.js";
import { gateRun, narrowedSignedOff } from "./run-report.fixture.js";

const html = (run = gateRun()) => htmlReport(run, judgeRun(run));

describe("htmlReport", () => {
  it("escapes run data, so output holding </script> cannot end the page's one script", () => {
    const page = html();
    expect(page.match(/<script>/g)).toHaveLength(1);
    expect(page.match(/<\/script>/g)).toHaveLength(1);
    expect(page).toContain("&lt;html&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/html&gt;");
    expect(page).toContain("restart nginx | check &lt;upstream&gt; logs");
    expect(esc(`"><img src=x onerror='a'>&`)).toBe("&quot;&gt;&lt;img src=x onerror=&#39;a&#39;&gt;&amp;");
  });

  it("loads nothing from the network: no external script, style, image or font", () => {
    const page = html();
    expect(page).not.toMatch(/<(script|img|iframe)[^>]*\ssrc=/i);
    expect(page).not.toMatch(/<link[^>]*stylesheet/i);
    expect(page).not.toMatch(/url\(|@import|https?:\/\//i);
  });

  it("shows the verdict, every reason and the attestation flags before the stages", () => {
    const page = html();
    const stages = page.indexOf("<h2>Stages</h2>");
    expect(page.indexOf('<span class="word" id="verdict">NO-GO</span>')).toBeLessThan(stages);
    for (const r of judgeRun(gateRun()).reasons) expect(page.indexOf(`<li>${esc(r)}</li>`)).toBeLessThan(stages);
    expect(page.indexOf("not valid for sign-off: nodes node-c, node-d share machine-id 1f2e3d4c")).toBeLessThan(stages);
  });

  it("shows the run's scope under the verdict: full, or narrowed with each override accepted at sign-off", () => {
    const page = html();
    const reasons = page.indexOf('<ul class="reasons">');
    expect(page.indexOf('<p class="scope" id="scope">scope: full</p>')).toBeGreaterThan(page.indexOf('id="verdict"'));
    expect(page.indexOf('<p class="scope" id="scope">scope: full</p>')).toBeLessThan(reasons);
    expect(html(narrowedSignedOff(gateRun()))).toContain(
      '<p class="scope" id="scope">scope: narrowed — iterations 1 of 2 on fleet; node subset: node-b of node-a, node-b on fleet</p><ul class="accepted-overrides"><li>accepted at sign-off by ana: iterations — the second iteration ran in yesterday&#39;s run</li></ul>',
    );
  });

  it("labels every cell with its status in words and one dot per iteration", () => {
    const page = html();
    expect(page).toContain('<td class="cell s-failed"><button type="button" aria-expanded="false" aria-controls="d-r1-1-2" data-status="failed"><span class="label s-failed">failed</span><span class="dots"><i class="dot s-passed" title="#1 passed">✓</i><i class="dot s-failed" title="#2 failed">✗</i></span></button></td>');
    expect(page).toContain("fleetgate-agent check plans/suites/app.yaml --only http");
  });

  it("gives the same bytes for the same run", () => {
    expect(html()).toBe(html());
  });
});
