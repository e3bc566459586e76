// What `fleetgate-agent config check` and `coord config check` print: the file's state, each
// setting's value and where it came from (shared/settings.ts), notes, and whether the daemon
// would start. Pure: a report in, text out.

export interface ConfigReport {
  file: string;
  /** "valid", or "absent (… uses flags, env and defaults)" for a default file that is not there. */
  fileState: string;
  /** SETTING, VALUE, FROM. */
  rows: [string, string, string][];
  notes: string[];
  /** What would stop the daemon; printed on stderr, exit 3. */
  problems: string[];
}

export function formatConfigReport(r: ConfigReport, daemon: string): string {
  const all: [string, string, string][] = [["SETTING", "VALUE", "FROM"], ...r.rows];
  const widths = [0, 1].map((i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  const table = all.map(([a, b, c]) => `${a.padEnd(widths[0]!)}  ${b.padEnd(widths[1]!)}  ${c}`.trimEnd());
  const n = r.problems.length;
  const verdict = n ? `${daemon} would not start: ${n} problem${n === 1 ? "" : "s"} (on stderr)` : `${daemon} would start with these settings`;
  return [`config ${r.file}: ${r.fileState}`, ...table, ...r.notes.map((note) => `note: ${note}`), verdict].join("\n");
}
