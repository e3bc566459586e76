// Summary statistics for `npm run bench`: median, nearest-rank p95, min and max of a sample.

export interface Summary {
  n: number;
  median: number;
  p5: number;
  p95: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array: no interpolation, so every figure was observed. */
function rank(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new Error("no samples to summarize");
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? (sorted[Math.floor(mid)] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { n: sorted.length, median, p5: rank(sorted, 5), p95: rank(sorted, 95), min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/** Milliseconds since an earlier `performance.now()`. */
export const since = (start: number): number => performance.now() - start;
