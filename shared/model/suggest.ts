// "Did you mean X?" for a misspelt key or value: the nearest candidate by edit distance, or a
// word people reach for that names the same thing (`greater` for `gt`), which no distance finds.

/** Edit distance (Levenshtein, with a swap of two neighbours counting as one edit: "hots" → "host"). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      row[j] = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

// Words for matcher operators and fields that are too far from the key to be found by distance.
const SYNONYMS: Record<string, string> = {
  greater: "gt",
  greater_than: "gt",
  more_than: "gt",
  above: "gt",
  greater_or_equal: "gte",
  at_least: "gte",
  min: "gte",
  less: "lt",
  less_than: "lt",
  below: "lt",
  less_or_equal: "lte",
  at_most: "lte",
  max: "lte",
  regex: "matches",
  regexp: "matches",
  match: "matches",
  pattern: "matches",
  includes: "contains",
  include: "contains",
  in: "one_of",
  oneof: "one_of",
  any_of: "one_of",
  code: "status",
  status_code: "status",
  cmd: "command",
  args: "argv",
  name: "id",
};

/** The candidate `word` was most likely meant to be, or undefined when none is close. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const synonym = SYNONYMS[lower];
  if (synonym && candidates.includes(synonym)) return synonym;
  const sameLetters = candidates.find((c) => c.toLowerCase() === lower);
  if (sameLetters !== undefined) return sameLetters === word ? undefined : sameLetters;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  // One edit in a short word, two in a longer one: "timout" → timeout, but "FETCH" is not PATCH.
  return best !== undefined && bestDistance > 0 && bestDistance <= Math.max(1, Math.min(2, Math.floor(word.length / 3))) ? best : undefined;
}

/** "; did you mean gt?" or "". */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const hit = closest(word, candidates);
  return hit ? `; did you mean ${hit}?` : "";
}
