// Durations an operator writes in configuration ("4h", "90m", "30s") and reads back in Slack.
// Pure, so the domain, the config and the blocks say the same length the same way.

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** "4h" → 14400000; undefined for anything else (the caller says what is wrong). */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})(s|m|h)$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
}

/** 14400000 → "4 h", 5400000 → "90 min", 10000 → "10 s": the largest unit that divides it. */
export function formatDuration(ms: number): string {
  if (ms >= UNIT_MS.h && ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h} h`;
  if (ms >= UNIT_MS.m && ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m} min`;
  return `${Math.round(ms / 1000)} s`;
}
