// The inline CSS and JS of the HTML report: one file that opens anywhere, with no network.
// Static text only: no run data is ever put inside <style> or <script>, so output cannot escape them.

export const CSS = `
:root { --passed:#1a7f37; --failed:#cf222e; --not_ready:#bf8700; --skipped:#6e7781; --lost:#8250df; --error:#a40e26;
  --cancelled:#57606a; --pending:#0969da; --running:#0969da; --unspecified:#6e7781; --line:#d0d7de; --muted:#57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1400px; color: #1f2328; }
h1 { margin: .2rem 0; font-size: 1.9rem; } h2 { margin: 1.6rem 0 .5rem; font-size: 1.25rem; } h3 { margin: 1rem 0 .4rem; font-size: 1.05rem; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: .5rem; overflow: auto; max-height: 24rem; white-space: pre-wrap; word-break: break-word; }
table { border-collapse: collapse; margin: .3rem 0; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; }
.verdict { border-left: .6rem solid var(--muted); padding: .6rem 1rem; background: #f6f8fa; }
.verdict.GO { border-color: var(--passed); } .verdict.NO-GO { border-color: var(--failed); } .verdict.INCOMPLETE { border-color: var(--not_ready); }
.verdict h1 .word { letter-spacing: .04em; }
.meta { color: var(--muted); margin: .2rem 0; }
.meta code { color: #1f2328; }
.flag { color: var(--failed); }
.label { display: inline-block; padding: 0 .4rem; border-radius: .7rem; color: #fff; font-size: 12px; font-weight: 600; white-space: nowrap; }
.s-passed { --c: var(--passed); } .s-failed { --c: var(--failed); } .s-not_ready { --c: var(--not_ready); } .s-skipped { --c: var(--skipped); }
.s-lost { --c: var(--lost); } .s-error { --c: var(--error); } .s-cancelled { --c: var(--cancelled); } .s-pending, .s-running { --c: var(--pending); }
.s-unspecified { --c: var(--unspecified); }
/* waived: judged, its outcome excused by a waiver; never the green of passed */
.s-waived { --c: #0969da; }
.label, .dot { background: var(--c, var(--muted)); }
td.cell { padding: 0; background: color-mix(in srgb, var(--c, #fff) 12%, white); }
td.cell button { all: unset; display: block; cursor: pointer; padding: .3rem .5rem; width: 100%; }
td.cell button:focus-visible { outline: 2px solid var(--pending); }
td.cell.empty { background: #fff; color: var(--muted); padding: .3rem .5rem; }
td.cell.all-passed { padding: .3rem .5rem; white-space: nowrap; color: var(--passed); font-size: 12px; }
tr.row > th { white-space: nowrap; }
.wide { overflow-x: auto; }
.reasons.long { max-height: 16rem; overflow-y: auto; border: 1px solid var(--line); background: #fff; padding-top: .3rem; padding-bottom: .3rem; }
.stage-counts { margin: .2rem 0 .4rem; }
.dots { display: block; margin-top: .15rem; }
.dot { display: inline-block; min-width: 1.1rem; height: 1.1rem; margin-right: .15rem; border-radius: .55rem; color: #fff; font-size: 10px; line-height: 1.1rem; text-align: center; }
tr.details > td { background: #fff; }
.detail { border-left: .3rem solid var(--c, var(--muted)); padding: .2rem .8rem; margin: .4rem 0; }
.detail h4 { margin: .3rem 0; }
.repro code { background: #fff8c5; padding: .1rem .3rem; }
.filters { position: sticky; top: 0; background: #fff; border-bottom: 1px solid var(--line); padding: .5rem 0; display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: center; z-index: 1; }
.filters label { white-space: nowrap; }
.hidden-by-filter { display: none; }
@media print {
  .filters { display: none; }
  .hidden-by-filter { display: table-row; }
  /* Printed, everything is open: every detail row and every cell's detail. */
  tr.details { display: table-row !important; }
  .detail[hidden] { display: block !important; }
  pre, .reasons.long { max-height: none; overflow: visible; }
  .wide { overflow: visible; }
  td.cell, .label, .dot, .verdict { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, h3 { break-after: avoid; }
}
`;

/**
 * Cells toggle their detail; filters hide rows by status, node and text. A row's detail row
 * follows it: shown when any of its cells is open and the row itself is not filtered out. The text
 * a row is matched by is read from the page once, when first filtered: the row, its details, and
 * the names of the checks it has a cell for (a row where all passed: its data-checks, or every
 * check of its stage), so no copy of the run's output is carried in attributes.
 */
export const JS = `
(function () {
  "use strict";
  function syncDetails(row) {
    var details = document.getElementById(row.getAttribute("data-details"));
    if (!details) return;
    var open = details.querySelector(".detail:not([hidden])") !== null;
    details.hidden = !open || row.classList.contains("hidden-by-filter");
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("td.cell button") : null;
    if (!button) return;
    var detail = document.getElementById(button.getAttribute("aria-controls"));
    if (!detail) return;
    detail.hidden = !detail.hidden;
    button.setAttribute("aria-expanded", String(!detail.hidden));
    syncDetails(button.closest("tr"));
  });
  var form = document.getElementById("filters");
  if (!form) return;
  var texts = new Map();
  function searchText(row) {
    var text = texts.get(row);
    if (text !== undefined) return text;
    var head = row.closest("table").tHead.rows[0].cells;
    var words = [row.textContent];
    var details = document.getElementById(row.getAttribute("data-details"));
    if (details) words.push(details.textContent);
    if (row.hasAttribute("data-checks")) words.push(row.getAttribute("data-checks"));
    else if (row.cells.length === 2 && row.cells[1].colSpan > 1) for (var h = 2; h < head.length; h++) words.push(head[h].textContent);
    else for (var c = 1; c < row.cells.length; c++) if (!row.cells[c].classList.contains("empty") && head[c]) words.push(head[c].textContent);
    text = words.join(" ").toLowerCase();
    texts.set(row, text);
    return text;
  }
  function apply() {
    var statuses = Array.prototype.map.call(form.querySelectorAll("input[name=status]:checked"), function (i) { return i.value; });
    var node = form.querySelector("select[name=node]").value;
    var text = form.querySelector("input[name=q]").value.trim().toLowerCase();
    var shown = 0;
    Array.prototype.forEach.call(document.querySelectorAll("tr.row"), function (row) {
      var ok = statuses.indexOf(row.getAttribute("data-status")) >= 0
        && (!node || row.getAttribute("data-node") === node)
        && (!text || searchText(row).indexOf(text) >= 0);
      row.classList.toggle("hidden-by-filter", !ok);
      if (ok) shown++;
      syncDetails(row);
    });
    document.getElementById("shown").textContent = String(shown);
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (ev) { ev.preventDefault(); });
  apply();
})();
`;
