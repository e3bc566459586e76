// Which tasks this agent started and finished, on disk before the first check runs: a restarted
// agent has forgotten its in-memory `seen` set, and the coordinator re-sends the task that was
// running when the link dropped. Without this, a destructive check ran twice on the node (issue 11).
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { FleetgateError } from "../../shared/errors.js";

/** What the journal knows of one task: ISO times; no finishedAt means it may have been cut short. */
export interface JournalEntry {
  startedAt?: string;
  finishedAt?: string;
}

/** One line of the file: `{"started":"<task id>","at":"<ISO time>"}` or `{"finished":…}`. */
type JournalLine = { started: string; at: string } | { finished: string; at: string };

/** Entries kept of each kind (finished, unfinished) when the file is rewritten. */
export const JOURNAL_KEEP = 1000;

/**
 * The file's lines folded into one entry per task id, in the order tasks first appear. A line
 * that does not parse (torn by a crash mid-write, before its fsync returned) is skipped: its task
 * had not started.
 */
export function parseJournal(text: string): Map<string, JournalEntry> {
  const entries = new Map<string, JournalEntry>();
  for (const line of text.split("\n")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    const l = parsed as Partial<Record<"started" | "finished" | "at", unknown>>;
    if (typeof l?.at !== "string") continue;
    if (typeof l.started === "string") entries.set(l.started, { ...entries.get(l.started), startedAt: l.at });
    else if (typeof l.finished === "string") entries.set(l.finished, { ...entries.get(l.finished), finishedAt: l.at });
  }
  return entries;
}

/** The entries as file text, newest `keep` finished and newest `keep` unfinished, order kept. */
export function compactJournal(entries: Map<string, JournalEntry>, keep = JOURNAL_KEEP): string {
  const all = [...entries];
  const newest = (finished: boolean) => all.filter(([, e]) => (e.finishedAt !== undefined) === finished).slice(-keep);
  const kept = new Set([...newest(true), ...newest(false)].map(([id]) => id));
  return all
    .filter(([id]) => kept.has(id))
    .flatMap(([id, e]) => [
      ...(e.startedAt ? [formatLine({ started: id, at: e.startedAt })] : []),
      ...(e.finishedAt ? [formatLine({ finished: id, at: e.finishedAt })] : []),
    ])
    .join("");
}

function formatLine(line: JournalLine): string {
  return `${JSON.stringify(line)}\n`;
}

export type Received =
  | { action: "run" }
  | { action: "repeat"; why: string }
  | { action: "interrupted"; summary: string };

/**
 * What to do with a task the coordinator sends, given what the journal knows of it and whether
 * its done event is still in the spool (written just before the journal's `finished`: a crash
 * between the two must not turn a finished task into an interrupted one).
 */
export function onTaskReceived(entry: JournalEntry | undefined, doneSpooled: boolean): Received {
  if (!entry) return { action: "run" };
  if (doneSpooled) return { action: "repeat", why: "task already finished here; ignoring the repeat (its result is spooled and will be delivered)" };
  if (entry.finishedAt !== undefined) {
    // The coordinator asks again, so it never got the result, and the spool no longer holds it (a
    // power loss took the unsynced spool): report that, or the task would stay running for ever.
    // Safe when the result did arrive after all: the coordinator ignores a report for a task that is over.
    return {
      action: "interrupted",
      summary: `the agent finished this task (at ${entry.finishedAt}) but its result was lost before delivery; its checks were not run again — run the stage again to re-check`,
    };
  }
  return {
    action: "interrupted",
    summary: `the agent stopped during this task (started ${entry.startedAt}); its checks were not run again — a destructive check is never re-run implicitly; run the stage again to re-check`,
  };
}

/** Writes the file's new contents durably: the data, then the directory entry the rename made. */
function replaceFile(file: string, dir: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** `state-dir/tasks.journal`: appended with an fsync per line, rewritten (bounded) at open and when it grows. */
export class TaskJournal {
  private fd = -1;
  private lines = 0;
  /**
   * Why the journal cannot be written (a read-only or full state dir), or undefined. Then every
   * task ends as an error before its first check: unrecorded, a restart could run it twice.
   */
  unwritable: string | undefined;
  /** Lines at which the file is rewritten: what compaction kept plus about a thousand tasks. */
  private rewriteAt = 0;

  private constructor(
    readonly file: string,
    private readonly dir: string,
    private readonly entries: Map<string, JournalEntry>,
    private readonly keep: number,
  ) {
    try {
      this.fd = this.rewrite();
    } catch (err) {
      if (typeof (err as NodeJS.ErrnoException).code !== "string") throw err;
      this.unwritable = `task journal unwritable: ${(err as Error).message}; the node cannot record which tasks it started, so it starts none`;
    }
  }

  /** Never throws for a state dir that refuses writes: the journal is then `unwritable`. */
  static open(dir: string, keep = JOURNAL_KEEP): TaskJournal {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch {
      // A directory that cannot be made cannot be written either: the first rewrite says why.
    }
    const file = join(dir, "tasks.journal");
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    return new TaskJournal(file, dir, parseJournal(text), keep);
  }

  entry(taskId: string): JournalEntry | undefined {
    const e = this.entries.get(taskId);
    return e && { ...e };
  }

  /** Durable before it returns: call it before the task's first check starts. */
  started(taskId: string, at = new Date()): void {
    this.entries.set(taskId, { startedAt: at.toISOString() });
    this.append({ started: taskId, at: at.toISOString() });
  }

  finished(taskId: string, at = new Date()): void {
    this.entries.set(taskId, { ...this.entries.get(taskId), finishedAt: at.toISOString() });
    this.append({ finished: taskId, at: at.toISOString() });
  }

  private append(line: JournalLine): void {
    if (this.fd < 0) throw new FleetgateError("internal", this.unwritable ?? `the task journal ${this.file} is not open`);
    try {
      writeSync(this.fd, formatLine(line));
      fsyncSync(this.fd);
    } catch (err) {
      throw new FleetgateError("internal", `cannot write the task journal ${this.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check the state dir's disk and permissions`);
    }
    if (++this.lines > this.rewriteAt) {
      closeSync(this.fd);
      this.fd = this.rewrite();
    }
  }

  /**
   * Replaces the file by its compacted entries (which also drops a line torn by a crash, so the
   * next append starts on a line of its own) and opens it for appending.
   */
  private rewrite(): number {
    const text = compactJournal(this.entries, this.keep);
    const kept = parseJournal(text);
    for (const id of this.entries.keys()) if (!kept.has(id)) this.entries.delete(id);
    replaceFile(this.file, this.dir, text);
    this.lines = text ? text.split("\n").length - 1 : 0;
    this.rewriteAt = this.lines + 2 * this.keep;
    return openSync(this.file, "a", 0o600);
  }
}
