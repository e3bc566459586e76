// The HTML report of a large run (200 nodes × 20 checks × 5 iterations, through the real store):
// rows that did not pass come first, worst first; every result that did not pass is there with its
// detail; only what passed is ever summarised as passed; the page grows linearly with the fleet.
// Speed is measured by `npm run bench -- reports`, not here.
import { beforeAll, describe, expect, it } from "vitest";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { esc, htmlReport } from "../../coordinator/reports/html.js";
import { reproduceCheck } from "../../coordinator/reports/reproduce.js";
import { severity } from "../../coordinator/reports/run-view.js";
import type { RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status, statusFromName, statusName } from "../../shared/model/status.js";
import { isLostNode, isNotReadyNode } from "../../scripts/synthetic-run.js";
import { largeRun } from "../support/large-run.js";

const NODES = 200;

interface Row {
  id: string;
  status: string;
  node: string;
  /** The row's own line, from <tr class="row"> to its </tr>. */
  html: string;
  /** Its details row, when it has one. */
  details?: string;
}

/** The stage's rows in page order, each with its line and details. */
function rowsOf(page: string): Row[] {
  const starts = [...page.matchAll(/<tr class="row" id="([^"]+)"(?: data-details="[^"]+")? data-status="([^"]+)" data-node="([^"]+)"/g)];
  const end = page.indexOf("</tbody></table></div></section>");
  return starts.map((m, i) => {
    const from = m.index ?? 0;
    const to = starts[i + 1]?.index ?? end;
    const text = page.slice(from, to);
    const split = text.indexOf(`<tr class="details" id="x-${m[1]}"`);
    return { id: m[1] as string, status: m[2] as string, node: m[3] as string, html: split < 0 ? text : text.slice(0, split), details: split < 0 ? undefined : text.slice(split) };
  });
}

const label = (s: Status) => `<span class="label s-${statusName(s)}">${statusName(s)}</span>`;
const passed = (t: TaskRecord) => t.status === Status.PASSED && t.checks.every((c) => c.status === Status.PASSED && c.cases.every((k) => k.status === Status.PASSED));

describe("the HTML report of a 200-node run", () => {
  let run: RunRecord;
  let page: string;
  let rows: Row[];
  const tasksOf = (node: string) => run.tasks.filter((t) => t.nodeName === node);

  beforeAll(() => {
    run = largeRun(NODES);
    page = htmlReport(run, judgeRun(run));
    rows = rowsOf(page);
  });

  it("has one row per node, those that did not pass first, worst first, each group in plan order", () => {
    expect(rows).toHaveLength(NODES);
    const ranks = rows.map((r) => severity(statusFromName(r.status)));
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
    expect(rows[0]?.status).toBe("failed");
    expect(rows.at(-1)?.status).toBe("passed");
    // The mix holds every outcome the reports must keep apart.
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(["failed", "error", "lost", "not_ready", "skipped", "passed"]));
    for (const status of new Set(rows.map((r) => r.status))) {
      const nodes = rows.filter((r) => r.status === status).map((r) => r.node);
      expect(nodes).toEqual([...nodes].sort());
    }
    expect(page.indexOf('id="verdict">NO-GO<')).toBeLessThan(page.indexOf("<h2>Stages</h2>"));
  });

  it("shows every result that did not pass in full in its row's details: status, summary, hint, output, reproduce line", () => {
    let shown = 0;
    for (const row of rows.filter((r) => r.status !== "passed")) {
      expect(row.details, row.node).toBeDefined();
      for (const t of tasksOf(row.node)) {
        if (t.status !== Status.PASSED) expect(row.details).toContain(`<h4>#${t.iteration} task ${label(t.status)}</h4><p>${esc(t.summary)}</p>`);
        for (const c of t.checks.filter((x) => x.status !== Status.PASSED)) {
          const name = c.precondition ? `precondition ${c.checkId}` : c.checkId;
          const at = row.details?.indexOf(`<h4>#${t.iteration} ${esc(name)} ${label(c.status)}</h4>\n<p>${esc(c.summary)}</p>`) ?? -1;
          expect(at, `${row.node} #${t.iteration} ${c.checkId}`).toBeGreaterThan(0);
          // This iteration's detail only: up to the next iteration's heading or the cell's end.
          const ends = [row.details?.indexOf("<h4>#", at + 1) ?? -1, row.details?.indexOf("</div>", at) ?? -1].filter((i) => i > 0);
          const detail = row.details?.slice(at, Math.min(...ends)) ?? "";
          if (c.hint) expect(detail).toContain(`<p>hint: ${esc(c.hint)}</p>`);
          if (c.stdoutTail) expect(detail).toContain(`<pre>${esc(c.stdoutTail)}</pre>`);
          if (c.stderrTail) expect(detail).toContain(`<pre>${esc(c.stderrTail)}</pre>`);
          const again = reproduceCheck(run, t, c);
          if (again) expect(detail).toContain(`<code>${esc(again.command)}</code>`);
          shown++;
        }
      }
    }
    const notPassed = run.tasks.flatMap((t) => t.checks.filter((c) => c.status !== Status.PASSED));
    expect(shown).toBe(notPassed.length);
    expect(notPassed.length).toBeGreaterThan(NODES / 2);
    // Not-ready and lost nodes are their own rows, never a pass.
    for (let i = 1; i <= NODES; i++) {
      const row = rows.find((r) => r.node === `node-${String(i).padStart(4, "0")}`);
      if (isNotReadyNode(i)) expect(row?.status).toBe("not_ready");
      if (isLostNode(i)) expect(row?.status).toBe("lost");
    }
  });

  it("summarises as passed only rows and cells where every task, check and inner case passed", () => {
    const head = page.indexOf("<thead><tr><th>node</th><th>task</th>");
    const checkIds = [...page.slice(head, page.indexOf("</tr></thead>", head)).matchAll(/<th>([^<]+)<\/th>/g)].map((m) => m[1]).slice(2);
    expect(checkIds).toHaveLength(20);
    let summarisedRows = 0;
    let summarisedCells = 0;
    for (const row of rows) {
      const tasks = tasksOf(row.node);
      if (row.html.includes("all-passed\" colspan=")) {
        summarisedRows++;
        expect(row.status).toBe("passed");
        expect(row.details).toBeUndefined();
        expect(tasks.every(passed), row.node).toBe(true);
        expect(row.html).toContain(`20 checks × 5 iterations: all 100 results passed`);
        continue;
      }
      expect(tasks.every(passed), row.node).toBe(false);
      // Cells after the task cell, one per check id of the stage.
      const cells = row.html.split('<td class="cell').slice(2);
      expect(cells).toHaveLength(checkIds.length);
      cells.forEach((cell, k) => {
        const results = tasks.flatMap((t) => t.checks.filter((c) => c.checkId === checkIds[k]));
        const allPassed = results.length > 0 && results.every((c) => c.status === Status.PASSED);
        expect(cell.startsWith(' s-passed all-passed"'), `${row.node} ${checkIds[k]}`).toBe(allPassed);
        if (allPassed) {
          summarisedCells++;
          expect(cell).toContain(`✓ passed ×${results.length}`);
        }
      });
    }
    expect(summarisedRows).toBeGreaterThan(NODES / 4);
    expect(summarisedCells).toBeGreaterThan(0);
  });

  it("grows linearly with the fleet: twice the nodes, less than 2.2 times the bytes", () => {
    const half = largeRun(NODES / 2);
    const small = Buffer.byteLength(htmlReport(half, judgeRun(half)));
    expect(Buffer.byteLength(page)).toBeLessThan(2.2 * small);
  });
});
