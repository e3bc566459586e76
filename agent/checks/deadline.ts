/**
 * Settles with `late()` when `work` takes longer than `ms`. Checks that use node:fs instead of a
 * process still need a timeout: a stat or statfs on a hung NFS mount never returns.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late()), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
