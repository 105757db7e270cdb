// The Signals message's writer: during an alert storm it must not send one Slack edit per signal
// (Slack allows ≈50 edits a minute per workspace), yet the message must end showing the newest state.
import { describe, expect, it } from 'vitest';
import type { Incident, SignalEntry } from '../../../src/rollback/ports.js';
import { silentLogger } from '../../../src/rollback/ports.js';
import { createSignalsBoard, withEntries } from '../../../src/rollback/signals-board.js';

const entry = (name: string, i: number): SignalEntry => ({
  name,
  source: 'alert',
  status: 'firing',
  summary: `${name} summary`,
  since: '2026-12-01T10:00:00.000Z',
  // Newest first on the message: the later an update, the newer its entries.
  updatedAt: new Date(Date.UTC(2026, 11, 1, 10) + i * 1000).toISOString(),
});

const incident = (names: string[], o: Partial<Incident> = {}): Incident => ({
  key: 'svc:ns/d:2:img',
  service: 'svc',
  namespace: 'ns',
  deployment: 'd',
  revision: 2,
  images: ['img'],
  openedAt: '2026-12-01T10:00:00.000Z',
  openedBy: { source: 'alert', name: 'HighErrorRate', key: 'fp' },
  thread: { channel: 'C1', ts: '1.1' },
  signals: Object.fromEntries(names.map((n, i) => [n, entry(n, i)])),
  ...o,
});

/** A Slack that takes `ms` per call, recording what it was sent. */
function slowSlack(ms: number, fail = 0) {
  const calls: { ts: string | undefined; text: string }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let failures = fail;
  return {
    calls,
    maxInFlight: () => maxInFlight,
    async upsertSignals(_thread: { channel: string; ts: string }, ts: string | undefined, text: string) {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      calls.push({ ts, text });
      await new Promise((r) => setTimeout(r, ms));
      inFlight -= 1;
      if (failures-- > 0) throw new Error('ratelimited');
      return ts ?? '2.2';
    },
  };
}

describe('the Signals message writer', () => {
  it('coalesces a storm of updates into few edits, one at a time, ending on the newest text', async () => {
    const slack = slowSlack(30);
    const posted: string[] = [];
    const board = createSignalsBoard({
      notifier: slack,
      logger: silentLogger,
      onPosted: (i, ts) => posted.push(`${i.key}@${ts}`),
    });
    const names: string[] = [];
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      names.push(`Alert${i}`);
      waits.push(board.update(incident([...names])));
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(waits);
    // One call per 200 updates would be 200 edits; one in flight and the newest text each time is a few.
    expect(slack.calls.length).toBeLessThanOrEqual(6);
    expect(slack.maxInFlight()).toBe(1);
    expect(slack.calls[0]?.ts).toBeUndefined(); // posted once…
    expect(slack.calls.slice(1).every((c) => c.ts === '2.2')).toBe(true); // …then edited by its ts
    expect(slack.calls.at(-1)?.text).toContain('Alert199');
    expect(slack.calls.at(-1)?.text).toMatch(/\*Signals\* \(200 firing/);
    expect(posted).toEqual(['svc:ns/d:2:img@2.2']);
    expect(board.tsOf('svc:ns/d:2:img')).toBe('2.2');
  });

  it('resolves every waiter only once a call with its text or a newer one has returned', async () => {
    const slack = slowSlack(20);
    const board = createSignalsBoard({ notifier: slack, logger: silentLogger });
    const a = board.update(incident(['A']));
    const b = board.update(incident(['A', 'B']));
    let bDone = false;
    void b.then(() => {
      bDone = true;
    });
    await a;
    expect(bDone).toBe(false); // the first call carried only A
    await b;
    expect(slack.calls.map((c) => c.text.includes('*B*'))).toEqual([false, true]);
  });

  it('keeps going after a failed edit, and edits the message the incident already has', async () => {
    const slack = slowSlack(5, 1);
    const board = createSignalsBoard({ notifier: slack, logger: silentLogger });
    await board.update(incident(['A'], { signalsTs: '9.9' }));
    await board.update(incident(['A', 'B'], { signalsTs: '9.9' }));
    expect(slack.calls.map((c) => c.ts)).toEqual(['9.9', '9.9']);
    expect(slack.calls.at(-1)?.text).toContain('*B*');
  });

  it('does nothing for an incident without a thread', async () => {
    const slack = slowSlack(1);
    const board = createSignalsBoard({ notifier: slack, logger: silentLogger });
    const { thread: _, ...noThread } = incident(['A']);
    await board.update(noThread);
    expect(slack.calls).toEqual([]);
  });
});

describe('the Signals entries kept with the incident', () => {
  it('adds a batch at once, a re-sent key replacing its entry, keeping the newest 100', () => {
    const first = withEntries(
      undefined,
      Array.from({ length: 150 }, (_, i): [string, SignalEntry] => [`k${i}`, entry(`A${i}`, i)]),
    );
    expect(Object.keys(first)).toHaveLength(100);
    expect(first.k49).toBeUndefined();
    expect(first.k50?.name).toBe('A50');
    const next = withEntries(first, [
      ['k50', { ...entry('A50', 500), status: 'resolved' }],
      ['new', entry('New', 501)],
    ]);
    expect(Object.keys(next)).toHaveLength(100);
    expect(next.k50?.status).toBe('resolved'); // replaced, not evicted as the oldest
    expect(next.k51).toBeUndefined(); // now the oldest
    expect(next.new?.name).toBe('New');
    expect(first.k50?.status).toBe('firing'); // the stored value is not changed in place
  });
});
