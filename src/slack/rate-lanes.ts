// The notifier's own pacing of Slack's rate limits. Slack takes about one chat.postMessage a second
// per channel (short bursts allowed) and chat.update at Tier 3 per workspace (50+ a minute). A bot
// that fires every post at once gets HTTP 429s, and @slack/web-api answers each one by pausing its
// single request queue (every channel, every method) for the whole Retry-After: twenty threads in one
// busy channel then stall the threads of every other channel, and a post that exhausts its retries
// fails its whole notice, which the outbox delivers again. So each call waits in its own lane first:
// one lane per channel for posts, one for the workspace's updates, in arrival order. A call waits
// only behind its own lane. A 429 that still comes (a listener's post the lanes did not see, another
// replica) holds that lane for the Retry-After.
//
// Slack's bucket counts a request when it arrives, which the bot cannot see: a request sent later
// may arrive sooner than one sent earlier. So a lane counts each call from when it was answered (no
// earlier than Slack counted it) and the next one from when it is sent (no later): for every earlier
// call j, the calls from j to the next one may number at most burst + rate × (now − answered_j).
// Slack then has at least the allowance the lane assumed, whatever the network did meanwhile.

export interface LaneRate {
  /** Calls allowed per second in the long run. */
  perSecond: number;
  /** Calls a quiet lane may make at once (Slack tolerates short bursts). */
  burst: number;
}

export interface RateLanes {
  /** Runs `call` when lane `key` allows, in arrival order; resolves with its answer. */
  run<T>(key: string, call: () => Promise<T>): Promise<T>;
  /** Slack said 429: nothing more in lane `key` goes for `ms`. */
  hold(key: string, ms: number): void;
}

interface Sent {
  /** When the answer came; undefined while in flight. */
  answeredAt?: number;
  answered: Promise<void>;
}

interface Lane {
  /** The lane's recent calls, oldest first. */
  sent: Sent[];
  heldUntil: number;
  /** The previous caller's turn: callers wait in line. */
  tail: Promise<void>;
}

/** Calls remembered per lane: more than enough to pace the next one (a minute of posts). */
const REMEMBERED = 100;

export function createRateLanes(
  rateOf: (key: string) => LaneRate,
  clock: { now: () => number; sleep: (ms: number) => Promise<void> } = {
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  },
): RateLanes {
  const lanes = new Map<string, Lane>();

  function laneOf(key: string): Lane {
    let lane = lanes.get(key);
    if (!lane) {
      lane = { sent: [], heldUntil: 0, tail: Promise.resolve() };
      lanes.set(key, lane);
    }
    return lane;
  }

  /** Waits until the lane allows one more call. */
  async function turn(lane: Lane, rate: LaneRate): Promise<void> {
    for (;;) {
      const now = clock.now();
      if (now < lane.heldUntil) {
        await clock.sleep(lane.heldUntil - now);
        continue;
      }
      let until = now;
      let inFlight: Promise<void> | undefined;
      const n = lane.sent.length;
      for (let j = 0; j < n; j++) {
        const calls = n - j + 1; // from call j to the next one, both counted
        if (calls <= rate.burst) break;
        const s = lane.sent[j] as Sent;
        if (s.answeredAt === undefined) {
          inFlight = s.answered;
          break;
        }
        until = Math.max(until, s.answeredAt + ((calls - rate.burst) / rate.perSecond) * 1000);
      }
      if (inFlight) await inFlight;
      else if (until > now) await clock.sleep(Math.ceil(until - now));
      else return;
    }
  }

  return {
    async run(key, call) {
      const lane = laneOf(key);
      const rate = rateOf(key);
      let answer = () => {};
      // The turn and the record of the call are one step: the next caller's turn counts this call.
      const mine = lane.tail.then(async () => {
        await turn(lane, rate);
        const s: Sent = { answered: new Promise<void>((r) => (answer = r)) };
        lane.sent.push(s);
        if (lane.sent.length > REMEMBERED) lane.sent.shift();
        return s;
      });
      lane.tail = mine.then(() => undefined);
      const s = await mine;
      try {
        return await call();
      } finally {
        s.answeredAt = clock.now();
        answer();
      }
    },
    hold(key, ms) {
      const lane = laneOf(key);
      lane.heldUntil = Math.max(lane.heldUntil, clock.now() + ms);
    },
  };
}
