// The incident thread's one Signals message: firing first, then resolved, then context, bounded.
import { describe, expect, it } from 'vitest';
import { buildSignalsText } from '../../../src/rollback/incidents.js';
import type { SignalEntry } from '../../../src/rollback/ports.js';

const entry = (name: string, o: Partial<SignalEntry> = {}): SignalEntry => ({
  name,
  source: 'alert',
  status: 'firing',
  summary: `${name} summary`,
  since: '2026-12-01T10:00:00.000Z',
  updatedAt: '2026-12-01T10:00:05.000Z',
  ...o,
});

describe('the Signals message', () => {
  it('lists firing, resolved and context signals with since, value and threshold', () => {
    const text = buildSignalsText({
      a: entry('PodCrashLooping', { status: 'resolved' }),
      b: entry('HighErrorRate', { value: '0.083', threshold: '0.05' }),
      c: entry('KubePodNotReady', { context: 'started before the current revision was rolled out' }),
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe('*Signals* (1 firing, updated in place)');
    expect(lines[1]).toBe(
      ':red_circle: *HighErrorRate* firing · since 2026-12-01 10:00:00 UTC · value 0.083 · threshold 0.05 — HighErrorRate summary',
    );
    expect(lines[2]).toMatch(/^:large_green_circle: \*PodCrashLooping\* resolved/);
    expect(lines[3]).toMatch(/^:white_circle: \*KubePodNotReady\* context .*not a trigger: started before/);
  });

  it('stays bounded however many signals an incident collects', () => {
    const many = Object.fromEntries(
      Array.from({ length: 500 }, (_, i) => [`k${i}`, entry(`A${i}`, { summary: 'x'.repeat(1000) })]),
    );
    const text = buildSignalsText(many);
    expect(text).toMatch(/…and 4\d\d more$/);
    expect(text.length).toBeLessThan(2600);
  });
});
