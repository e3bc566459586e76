// Ctrl-C while following a run. The run lives on the coordinator, so Ctrl-C must not decide on its
// own whether the fleet stops: on a terminal it asks; elsewhere it detaches and says how to
// follow or cancel. The input is injected, so the question is tested without a terminal.
import type { EventEmitter } from "node:events";

export type Choice = "cancel" | "detach";

export interface PromptInput extends EventEmitter {
  isTTY?: boolean;
  setRawMode?(on: boolean): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface PromptIo {
  input: PromptInput;
  output: { write(text: string): unknown };
  /** Subscribes to SIGINT; returns the unsubscribe. */
  onInterrupt(listener: () => void): () => void;
}

const CTRL_C = "\x03";
const CTRL_D = "\x04";

/**
 * Asks whether to cancel the run on the fleet or detach from it, reading one key. A second Ctrl-C
 * (as a signal, or as a byte in raw mode), end of input or `abort` all mean detach: the user is
 * never trapped in the question.
 */
export function askCancelOrDetach(runId: string, io: PromptIo, abort?: AbortSignal): Promise<Choice> {
  if (abort?.aborted) return Promise.resolve("detach");
  return new Promise((resolve) => {
    const raw = io.input.isTTY === true && typeof io.input.setRawMode === "function";
    const done = (choice: Choice, echo: string = choice) => {
      io.input.off("data", onData);
      io.input.off("end", onEnd);
      abort?.removeEventListener("abort", onAbort);
      unsubscribe();
      if (raw) io.input.setRawMode?.(false);
      io.input.pause();
      io.output.write(`${echo}\n`);
      resolve(choice);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of String(chunk)) {
        const key = ch.toLowerCase();
        if (key === "c") return done("cancel");
        if (key === "d" || ch === CTRL_C || ch === CTRL_D) return done("detach");
      }
    };
    const onEnd = () => done("detach");
    const onAbort = () => done("detach", "(no longer asking)");
    const unsubscribe = io.onInterrupt(onEnd);
    io.input.on("data", onData);
    io.input.on("end", onEnd);
    abort?.addEventListener("abort", onAbort);
    if (raw) io.input.setRawMode?.(true);
    io.input.resume();
    io.output.write(`\ncancel run ${runId} on the fleet, or detach and let it go on? [c]ancel/[d]etach: `);
  });
}

/** SIGINT as an unsubscribable source; while subscribed, Ctrl-C no longer kills the process. */
export function processInterrupts(listener: () => void): () => void {
  process.on("SIGINT", listener);
  return () => {
    process.off("SIGINT", listener);
  };
}

/** What to print when detaching: the run goes on, and how to find it again. */
export function detachHint(runId: string): string {
  return `detached from run ${runId}; it goes on on the coordinator.\n  follow it: coord watch ${runId}\n  cancel it: coord cancel ${runId}\n`;
}
