// What `npm run bench` must undo however it ends: child processes and temp dirs. Undo steps run
// last-registered first (agents stop before the coordinator they talk to, dirs go last).

type Undo = () => void | Promise<void>;

export class Cleanup {
  private readonly steps = new Map<number, { what: string; undo: Undo }>();
  private next = 0;
  private running?: Promise<void>;

  /** Registers an undo step; the returned function runs it now and forgets it. */
  add(what: string, undo: Undo): () => Promise<void> {
    const id = this.next++;
    this.steps.set(id, { what, undo });
    return async () => {
      const step = this.steps.get(id);
      this.steps.delete(id);
      await step?.undo();
    };
  }

  /** Runs every remaining step, newest first; one failing step does not stop the others. */
  runAll(report: (text: string) => void): Promise<void> {
    this.running ??= (async () => {
      for (const id of [...this.steps.keys()].sort((a, b) => b - a)) {
        const step = this.steps.get(id);
        this.steps.delete(id);
        try {
          await step?.undo();
        } catch (err) {
          report(`cleanup: ${step?.what}: ${(err as Error).message}`);
        }
      }
    })();
    return this.running;
  }
}
