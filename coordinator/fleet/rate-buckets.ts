// Token buckets by key (a peer address, a node name): `perMinute` tokens a minute, at most `burst`
// saved up. Pure: time comes in as a parameter. The keys are bounded: beyond `maxKeys` the least
// recently used is forgotten, so hellos naming a million made-up nodes cost a bounded map, not
// the coordinator's memory (a forgotten key starts again with a full bucket).

interface Bucket {
  tokens: number;
  at: number;
}

export interface RateLimit {
  perMinute: number;
  /** Tokens a quiet key saves up: how many may come at once. Defaults to perMinute. */
  burst?: number;
}

export class RateBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly burst: number;

  constructor(
    limit: RateLimit,
    private readonly maxKeys: number,
  ) {
    this.perMs = limit.perMinute / 60_000;
    this.burst = limit.burst ?? limit.perMinute;
  }

  /** The key's bucket refilled to `now`, and marked most recently used. */
  private refilled(key: string, now: number): Bucket {
    const b = this.buckets.get(key);
    this.buckets.delete(key);
    const fresh = b ? { tokens: Math.min(this.burst, b.tokens + Math.max(0, now - b.at) * this.perMs), at: Math.max(now, b.at) } : { tokens: this.burst, at: now };
    this.buckets.set(key, fresh);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return fresh;
  }

  /** Ms until `key` has a whole token at `now`; 0 when it has one now. Takes nothing. */
  wait(key: string, now: number): number {
    const b = this.refilled(key, now);
    return b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) / this.perMs);
  }

  /** Takes a token if `key` has one: 0. Otherwise takes nothing and returns the ms until it will. */
  take(key: string, now: number): number {
    const wait = this.wait(key, now);
    if (wait === 0) (this.buckets.get(key) as Bucket).tokens -= 1;
    return wait;
  }

  /**
   * Takes a token whether or not `key` has one (the bucket goes into debt) and returns the ms until
   * the debt is paid: how long to hold off the key's next request. For what must never be refused.
   */
  spend(key: string, now: number): number {
    const b = this.refilled(key, now);
    b.tokens -= 1;
    return b.tokens >= 0 ? 0 : Math.ceil(-b.tokens / this.perMs);
  }

  /** Keys tracked now (bounded by maxKeys). */
  get size(): number {
    return this.buckets.size;
  }
}
