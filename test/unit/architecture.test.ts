// The layout rules of STYLE.md, checked rather than hoped for: the domain imports no SDK and no
// adapter, only src/slack imports @slack, nothing imports main.ts, and there are no import cycles.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const graph = new Map<string, string[]>();
for (const f of files(SRC)) {
  const text = readFileSync(f, 'utf8');
  const specs = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1] ?? '');
  graph.set(relative(SRC, f), specs);
}

const local = (from: string, spec: string) =>
  relative(SRC, resolve(SRC, dirname(from), spec)).replace(/\.js$/, '.ts');

describe('architecture', () => {
  it('keeps the domain free of SDKs and adapters', () => {
    const bad: string[] = [];
    for (const [file, specs] of graph) {
      if (!file.startsWith('rollback/')) continue;
      for (const s of specs) {
        if (/^(@slack|@kubernetes|@pagerduty|ioredis|axios)/.test(s)) bad.push(`${file} → ${s}`);
        if (s.startsWith('.') && /^(slack|alerts|kube|store|observe|pagerduty|report)\//.test(local(file, s)))
          bad.push(`${file} → ${s}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('lets only src/slack import @slack, and nothing import main.ts', () => {
    const bad: string[] = [];
    for (const [file, specs] of graph) {
      for (const s of specs) {
        if (s.startsWith('@slack') && !file.startsWith('slack/')) bad.push(`${file} → ${s}`);
        if (s.startsWith('.') && local(file, s) === 'main.ts') bad.push(`${file} → ${s}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' → '));
        return;
      }
      state.set(f, 'visiting');
      for (const s of graph.get(f) ?? []) if (s.startsWith('.')) visit(local(f, s), [...path, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('reads process.env only in main.ts and src/config', () => {
    const bad = [...graph.keys()].filter(
      (f) =>
        f !== 'main.ts' &&
        !f.startsWith('config/') &&
        readFileSync(join(SRC, f), 'utf8').includes('process.env'),
    );
    expect(bad).toEqual([]);
  });
});
