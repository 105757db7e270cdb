// The Slack assessment shows what the CLI shows: Warning events, /health and /ready, and why a
// baseline is missing when it is.
import { describe, expect, it } from 'vitest';
import { buildAssessment } from '../../../src/slack/blocks/rollback-blocks.js';
import { buildRollback } from '../store/rollback-fixture.js';

const text = (blocks: unknown) => JSON.stringify(blocks);

describe('Slack assessment', () => {
  it('shows /ready beside /health, and the Warning events', () => {
    const r = buildRollback('a1', { state: 'awaiting_approval' });
    const t = text(buildAssessment(r));
    expect(t).toContain('*/health:* 503');
    expect(t).toContain('*/ready:* 503');
    expect(t).toContain('*Recent warning events*');
  });

  it('says why there is no baseline instead of a bare n/a', () => {
    const r = buildRollback('a2', { state: 'awaiting_approval' });
    const a = r.assessment!;
    if (!a.metrics.ok) throw new Error('fixture has metrics');
    const noData = { ...a.metrics.value, baselineErrorRatio: undefined, baselineP99Seconds: undefined };
    const withTime = text(
      buildAssessment({ ...r, assessment: { ...a, metrics: { ...a.metrics, value: noData } } }),
    );
    expect(withTime).toMatch(
      /\(before: n\/a, no data at \d\d:\d\d:\d\d UTC, just before the current revision was created\)/,
    );
    const noTime = { ...noData, baselineAt: undefined };
    const without = text(
      buildAssessment({ ...r, assessment: { ...a, metrics: { ...a.metrics, value: noTime } } }),
    );
    expect(without).toContain('the current revision is unknown, so there is no time to take it at');
  });
});
