// Runs a suite's checks several at a time, like goss's --max-concurrent, while everything a reader
// of the results sees stays as if they had run one by one: checks start in declared order, and
// each result is handed on in declared order (a later check that finishes first waits, buffered,
// for the earlier ones). So the started checks are always a prefix of the list, and a stop
// leaves exactly what a sequential run would have left: every started check reported, the rest
// never started.

export interface OrderedPoolOptions<T, R> {
  /** How many may run at once (at least 1; 1 is one after the other, as before). */
  limit: number;
  /** True for an item that runs alone: nothing else in flight while it runs, at its place in the order. */
  alone: (item: T) => boolean;
  run: (item: T) => Promise<R>;
  /** Called once per finished item, in the items' order, never two at a time. */
  deliver: (result: R, item: T) => void | Promise<void>;
  /** True once no further item may start (a cancelled task); those in flight still finish and are delivered. */
  stopped?: () => boolean;
}

/**
 * Runs `items` under `opts`. Resolves once every started item is delivered. If `run` or `deliver`
 * throws (the agent breaking, not a check failing), nothing more starts, the items in flight
 * finish (none is left running behind the caller), the results before the broken one are
 * delivered, and the error is thrown.
 */
export async function runOrdered<T, R>(items: readonly T[], opts: OrderedPoolOptions<T, R>): Promise<void> {
  const limit = Math.max(1, Math.floor(opts.limit));
  const finished = new Map<number, { result: R } | { error: unknown }>();
  const inFlight = new Map<number, Promise<void>>();
  let nextToDeliver = 0;
  let broken: { index: number; error: unknown } | undefined;
  /** An item failed (delivered yet or not): nothing more starts. */
  let anyFailed = false;

  // Hands on every result that is next in line; stops at the first gap (an earlier one still
  // running), and for good at the first error, whether the item's or the hand-over's own.
  const deliverReady = async () => {
    for (let done = finished.get(nextToDeliver); done && !broken; done = finished.get(nextToDeliver)) {
      finished.delete(nextToDeliver);
      if ("error" in done) {
        broken = { index: nextToDeliver, error: done.error };
        return;
      }
      try {
        await opts.deliver(done.result, items[nextToDeliver] as T);
      } catch (error) {
        broken = { index: nextToDeliver, error };
        return;
      }
      nextToDeliver++;
    }
  };
  const settleOne = async () => {
    await Promise.race(inFlight.values());
    await deliverReady();
  };

  for (let i = 0; i < items.length; i++) {
    const item = items[i] as T;
    const alone = opts.alone(item);
    // An item that runs alone waits for the pool to empty; any other, for a free slot.
    while (inFlight.size >= (alone ? 1 : limit)) await settleOne();
    if (broken || anyFailed || opts.stopped?.()) break;
    const index = i;
    const running = opts.run(item).then(
      (result) => void finished.set(index, { result }),
      (error: unknown) => {
        anyFailed = true;
        finished.set(index, { error });
      },
    );
    inFlight.set(
      index,
      running.then(() => void inFlight.delete(index)),
    );
    // Nothing starts beside it, either.
    if (alone) while (inFlight.size) await settleOne();
  }
  while (inFlight.size) await settleOne();
  await deliverReady();
  if (broken) throw broken.error;
}
