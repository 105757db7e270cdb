// Slack limits chat.postMessage to about one message per second per channel (short bursts
// tolerated) and the tiered methods per workspace. A bot that ignores this works in a demo and
// fails in an incident, so the emulator answers like Slack: HTTP 429 + Retry-After (whole seconds).

import type { TokenBucketOptions } from './types.js';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly opts: TokenBucketOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (!(opts.perSecond > 0) || !(opts.burst >= 1))
      throw new Error('rate limit needs perSecond > 0 and burst >= 1');
    this.tokens = opts.burst;
    this.last = this.now();
  }

  /** Takes one token; returns 0 when allowed, else the Retry-After in whole seconds (>= 1). */
  take(): number {
    const now = this.now();
    this.tokens = Math.min(this.opts.burst, this.tokens + ((now - this.last) / 1000) * this.opts.perSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    const waitSeconds = (1 - this.tokens) / this.opts.perSecond;
    return Math.max(1, Math.ceil(waitSeconds));
  }
}

/** One bucket per key (e.g. per channel), created on first use. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly opts: TokenBucketOptions) {}

  take(key: string): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.opts);
      this.buckets.set(key, bucket);
    }
    return bucket.take();
  }
}
