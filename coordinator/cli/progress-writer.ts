// Puts progress on screen: a live block redrawn in place on a terminal, plain appended lines on a
// pipe, nothing for --json. The lines themselves come from progress.ts.
import type { WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { applyUpdateInPlace, emptyProgress, notableLines, plainLines, renderLive, type ProgressState } from "./progress.js";

export interface ProgressView {
  update(u: WatchRunResponse): void;
  /** Stop drawing and clear the live block, e.g. while asking a question on the terminal. */
  pause(): void;
  resume(): void;
  /** Clear the live block for good; the final summary follows. */
  close(): void;
}

export interface Output {
  write(text: string): unknown;
  columns?: number;
}

/** --json: only the final JSON is printed. */
export const silentView: ProgressView = { update() {}, pause() {}, resume() {}, close() {} };

/** Append-only lines, as a CI log or `| tee` wants them. Lines held back while paused. */
export class PlainView implements ProgressView {
  private state: ProgressState = emptyProgress();
  private held: string[] = [];
  private paused = false;

  constructor(private readonly out: Output) {}

  update(u: WatchRunResponse): void {
    const lines = plainLines(this.state, u);
    this.state = applyUpdateInPlace(this.state, u);
    if (this.paused) this.held.push(...lines);
    else for (const l of lines) this.out.write(`${l}\n`);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const l of this.held.splice(0)) this.out.write(`${l}\n`);
  }

  close(): void {
    this.resume();
  }
}

const ESC = "\x1b[";

export interface LiveOptions {
  /** At most one redraw per this many ms: a replay of a long run is hundreds of updates. */
  throttleMs?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
}

/**
 * One line per stage and node, redrawn in place with ANSI cursor movement. Results that are not a
 * pass are printed above the block and stay there, so a failure and its hint survive the redraws.
 */
export class LiveView implements ProgressView {
  private state: ProgressState = emptyProgress();
  private pending: string[] = [];
  private drawn = 0;
  private lastDraw: number;
  private timer: unknown;
  private paused = false;
  private closed = false;
  private readonly throttleMs: number;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (t: unknown) => void;

  constructor(
    private readonly out: Output,
    opts: LiveOptions = {},
  ) {
    this.throttleMs = opts.throttleMs ?? 100;
    this.now = opts.now ?? Date.now;
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = opts.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
    // The first frame waits one period too: the replay of what happened so far arrives as a burst.
    this.lastDraw = this.now();
  }

  update(u: WatchRunResponse): void {
    this.pending.push(...notableLines(this.state, u));
    this.state = applyUpdateInPlace(this.state, u);
    this.schedule();
  }

  pause(): void {
    this.paused = true;
    this.cancelTimer();
    this.out.write(this.erase());
  }

  resume(): void {
    if (this.closed) return;
    this.paused = false;
    this.draw();
  }

  close(): void {
    if (this.closed) return;
    this.cancelTimer();
    // What was kept above the block stays; the block itself gives way to the final table.
    this.out.write(`${this.erase()}${this.pending.splice(0).map((l) => `${l}\n`).join("")}`);
    this.paused = this.closed = true;
  }

  private schedule(): void {
    if (this.paused || this.timer !== undefined) return;
    const wait = this.lastDraw + this.throttleMs - this.now();
    if (wait <= 0) return this.draw();
    this.timer = this.setTimer(() => {
      this.timer = undefined;
      if (!this.paused) this.draw();
    }, wait);
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Cursor to the first line of the block, and everything below it cleared. */
  private erase(): string {
    const up = this.drawn ? `${ESC}${this.drawn}F` : "\r";
    this.drawn = 0;
    return `${up}${ESC}J`;
  }

  // One write per frame: the terminal never shows a half-drawn block.
  private draw(): void {
    this.lastDraw = this.now();
    const kept = this.pending.splice(0).map((l) => `${l}\n`).join("");
    // One column spare: a line exactly as wide as the terminal wraps on some of them.
    const lines = renderLive(this.state, Math.max(0, (this.out.columns ?? 0) - 1));
    const frame = `${this.erase()}${kept}${lines.map((l) => `${l}\n`).join("")}`;
    this.drawn = lines.length;
    this.out.write(frame);
  }
}
