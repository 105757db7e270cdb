// The bench's figures: each is the bot's measurement next to an anchor measured in the same run, so
// a slow moment on a shared machine moves both. Printed as a table, written as JSON, and checked by
// `--check` (exit 1, naming each missed goal).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Figure {
  /** The section that measured it (`--only` takes these names). */
  section: string;
  figure: string;
  /** What the anchor is, and its value in `unit`; absent where the issue names no anchor. */
  anchor?: { what: string; value: number };
  value: number;
  unit: string;
  /** value / anchor.value, when there is an anchor. */
  ratio?: number;
  /** The goal as written in the table, e.g. "≤ 1.10×" or "< 150 MB". */
  goal: string;
  met: boolean;
  /** Why a goal is missed or what the number includes, in a few words. */
  note?: string;
}

/** A figure with an anchor: the ratio is computed here, the goal is `ratio <= maxRatio`. */
export function ratioFigure(
  f: Omit<Figure, 'ratio' | 'met' | 'goal' | 'anchor'> & {
    anchor: { what: string; value: number };
    maxRatio: number;
    /** Further conditions that must hold too (e.g. an absolute cap); all are ANDed. */
    also?: { goal: string; met: boolean }[];
  },
): Figure {
  const ratio = f.anchor.value > 0 ? f.value / f.anchor.value : Number.POSITIVE_INFINITY;
  const also = f.also ?? [];
  const { maxRatio, also: _, ...rest } = f;
  return {
    ...rest,
    ratio,
    goal: [`≤ ${maxRatio.toFixed(2)}×`, ...also.map((a) => a.goal)].join(', '),
    met: ratio <= maxRatio && also.every((a) => a.met),
  };
}

const fmt = (n: number, unit: string) =>
  `${Number.isInteger(n) || Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1)} ${unit}`;

export function table(figures: Figure[]): string {
  const lines = [
    '| figure | anchor (same run) | bot | ratio | goal | met |',
    '|---|---|---|---|---|---|',
    ...figures.map((f) =>
      [
        f.figure,
        f.anchor ? `${f.anchor.what}: ${fmt(f.anchor.value, f.unit)}` : '—',
        fmt(f.value, f.unit) + (f.note ? ` (${f.note})` : ''),
        f.ratio === undefined ? '—' : `${f.ratio.toFixed(2)}×`,
        f.goal,
        f.met ? 'yes' : '**no**',
      ].join(' | '),
    ),
  ];
  return lines.map((l) => (l.startsWith('|') ? l : `| ${l} |`)).join('\n');
}

export function writeJson(file: string, run: { date: string; machine: string; figures: Figure[] }): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
}

export function missed(figures: Figure[]): Figure[] {
  return figures.filter((f) => !f.met);
}
