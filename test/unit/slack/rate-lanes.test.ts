// The notifier's rate lanes on a fake clock: each lane keeps its own rate, a full lane delays only
// its own callers, in arrival order, and a 429's hold stops only its lane.
import { describe, expect, it } from 'vitest';
import { createRateLanes } from '../../../src/slack/rate-lanes.js';

function fakeClock() {
  let now = 0;
  const sleepers: { at: number; wake: () => void }[] = [];
  return {
    now: () => now,
    sleep: (ms: number) => new Promise<void>((wake) => sleepers.push({ at: now + ms, wake })),
    /** Moves time on to `to`, waking each sleeper at its time (and whatever it schedules next). */
    async advance(to: number) {
      for (;;) {
        await new Promise((r) => setImmediate(r));
        sleepers.sort((a, b) => a.at - b.at);
        const next = sleepers[0];
        if (!next || next.at > to) break;
        sleepers.shift();
        now = next.at;
        next.wake();
      }
      now = to;
      await new Promise((r) => setImmediate(r));
    },
  };
}

/** Runs `n` calls in `key` (each answered after `answerMs`), recording when each was sent. */
function takeMany(
  lanes: ReturnType<typeof createRateLanes>,
  clock: ReturnType<typeof fakeClock>,
  key: string,
  n: number,
  answerMs = 0,
) {
  const at: number[] = [];
  const done = Promise.all(
    Array.from({ length: n }, (_, i) =>
      lanes.run(key, async () => {
        at[i] = clock.now();
        if (answerMs) await clock.sleep(answerMs);
      }),
    ),
  );
  return { at, done };
}

describe('rate lanes', () => {
  it('gives a lane its burst at once, then one a second, in arrival order', async () => {
    const clock = fakeClock();
    const lanes = createRateLanes(() => ({ perSecond: 1, burst: 3 }), clock);
    const a = takeMany(lanes, clock, 'post:A', 6);
    await clock.advance(10_000);
    await a.done;
    expect(a.at).toEqual([0, 0, 0, 1000, 2000, 3000]);
  });

  it("does not make one channel wait behind another channel's queue", async () => {
    const clock = fakeClock();
    const lanes = createRateLanes(() => ({ perSecond: 1, burst: 3 }), clock);
    const busy = takeMany(lanes, clock, 'post:A', 20);
    await clock.advance(500);
    const quiet = takeMany(lanes, clock, 'post:B', 3);
    await clock.advance(500);
    await quiet.done;
    // B's three go the moment they are asked for, while A still has 17 waiting.
    expect(quiet.at).toEqual([500, 500, 500]);
    expect(busy.at.filter((t) => t !== undefined)).toHaveLength(3);
    await clock.advance(60_000);
    await busy.done;
    expect(busy.at.at(-1)).toBe(17_000);
  });

  it('counts a call from its answer, since Slack may have counted it as late as that', async () => {
    const clock = fakeClock();
    const lanes = createRateLanes(() => ({ perSecond: 1, burst: 3 }), clock);
    const a = takeMany(lanes, clock, 'post:A', 5, 400);
    await clock.advance(10_000);
    await a.done;
    // The burst goes at once and is answered at 400; the 4th waits a second from then, and so on.
    expect(a.at).toEqual([0, 0, 0, 1400, 2400]);
  });

  it('holds only the lane Slack answered 429 for, for the Retry-After', async () => {
    const clock = fakeClock();
    const lanes = createRateLanes(() => ({ perSecond: 1, burst: 3 }), clock);
    lanes.hold('post:A', 2000);
    const a = takeMany(lanes, clock, 'post:A', 1);
    const b = takeMany(lanes, clock, 'post:B', 1);
    await clock.advance(5000);
    await Promise.all([a.done, b.done]);
    expect(b.at).toEqual([0]);
    expect(a.at).toEqual([2000]);
  });
});
