// The Grafana dashboard we ship must chart what the bot exports: every series a panel queries is one
// /metrics serves (a renamed metric would leave a panel empty), and every metric of the bot's own has
// a panel (a new one would go unseen).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createBotMetrics } from '../../../src/observe/create-bot-metrics.js';

interface Panel {
  title: string;
  targets: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync('manifests/grafana-dashboard.json', 'utf8')) as { panels: Panel[] };

/** Metric names a PromQL expression reads (histogram series folded to their metric). */
function metricsIn(expr: string): string[] {
  const names = expr.match(/\b(rollback_bot_[a-z_]+|process_[a-z_]+|nodejs_[a-z0-9_]+)\b/g) ?? [];
  return names.map((n) => n.replace(/_(bucket|sum|count)$/, ''));
}

describe('manifests/grafana-dashboard.json', () => {
  it('queries only metrics the bot exports, and charts every one of its own', async () => {
    const text = await createBotMetrics().render();
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    const queried = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricsIn(t.expr)));
    expect(queried.length).toBeGreaterThan(10);
    expect(queried.filter((n) => !exported.has(n))).toEqual([]);
    const own = [...exported].filter((n) => n.startsWith('rollback_bot_'));
    expect(own.length).toBeGreaterThanOrEqual(8);
    expect(own.filter((n) => !queried.includes(n))).toEqual([]);
  });
});
