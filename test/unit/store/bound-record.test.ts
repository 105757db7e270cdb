import { describe, expect, it } from 'vitest';
import {
  boundEventForStorage,
  boundForStorage,
  cutText,
  STORAGE_LIMITS,
} from '../../../src/rollback/bound-record.js';
import type { Rollback } from '../../../src/rollback/model.js';
import { buildAssessment, buildRollback } from './rollback-fixture.js';

const L = STORAGE_LIMITS;
const sizeOf = (r: unknown) => Buffer.byteLength(JSON.stringify(r));

describe('boundForStorage', () => {
  it('keeps a realistic record as it is', () => {
    const r = buildRollback('r1');
    expect(boundForStorage(r)).toEqual(r);
  });

  it('caps pods, containers, events, log lines and line length, and says what it cut', () => {
    const r = buildRollback('r2', {}, 40);
    const a = r.assessment!;
    // Long lines, as a Java stack trace or a JSON log line gives them.
    a.errorLogs = buildAssessment(2, 5_000).errorLogs;
    if (a.pods.ok) {
      const c = a.pods.value[1]!.containers[0]!;
      a.pods.value[1]!.containers = Array.from({ length: 20 }, (_, i) => ({ ...c, name: `c${i}` }));
    }
    const b = boundForStorage(r).assessment!;
    if (!b.pods.ok || !b.events.ok || !b.errorLogs.ok || !b.history.ok)
      throw new Error('sources must stay ok');
    expect(b.pods.value).toHaveLength(L.pods);
    // Not-ready pods are the interesting ones: they are kept first.
    expect(b.pods.value.every((p) => !p.ready)).toBe(true);
    expect(b.pods.value[0]!.containers).toHaveLength(L.containersPerPod);
    expect(b.pods.value[0]!.name).toBe(a.pods.ok ? a.pods.value[1]!.name : '');
    expect(b.events.value).toHaveLength(L.events);
    expect(b.errorLogs.value).toHaveLength(L.logPods);
    for (const p of b.errorLogs.value) {
      expect(p.lines).toHaveLength(L.logLinesPerPod);
      for (const line of p.lines) expect(line.length).toBeLessThanOrEqual(L.logLineChars);
    }
    // The newest lines are kept (the list is oldest first).
    const original = (a.errorLogs as { value: { lines: string[] }[] }).value[0]!.lines;
    expect(b.errorLogs.value[0]!.lines.at(-1)).toBe(cutText(original.at(-1)!, L.logLineChars));
    expect(b.history.value).toHaveLength(L.historyEntries);
    expect(b.history.value.map((h) => h.revision)).toContain(400);
    expect(b.findings.at(-1)).toMatch(
      /^Stored excerpt: kept 30 of 200 pods, 20 of 400 events, 60 of 240 error-log lines, 20 of 400 revisions/,
    );
    // The findings, computed from everything, are kept.
    expect(b.findings.slice(0, -1)).toEqual(a.findings);
    // The worst case of a record: what the memory budget in manifests/redis.yaml is reckoned with.
    expect(sizeOf(boundForStorage(r))).toBeLessThan(64_000);
  });

  it('takes records of any shape earlier versions (or tests) stored: a partial assessment passes as it is', () => {
    const r = buildRollback('r0');
    const partial = { ...r, assessment: { from: r.assessment!.from } as Rollback['assessment'] };
    expect(boundForStorage(partial)).toEqual(partial);
    const noChecks = { ...r, verification: { at: r.updatedAt, passed: true } as Rollback['verification'] };
    expect(boundForStorage(noChecks)).toEqual(noChecks);
  });

  it('is idempotent: a bounded record is not cut or annotated again', () => {
    const once = boundForStorage(buildRollback('r3', {}, 40));
    expect(boundForStorage(once)).toEqual(once);
    const many = buildRollback('r4', {}, 40);
    many.assessment!.findings = Array.from({ length: 100 }, (_, i) => `finding ${i}`);
    const b = boundForStorage(many);
    expect(b.assessment!.findings).toHaveLength(L.findings);
    expect(b.assessment!.findings.at(-1)).toContain(`${L.findings - 1} of 100 findings`);
    expect(boundForStorage(b)).toEqual(b);
  });

  it('caps every message and the report, without touching the input', () => {
    const long = 'é'.repeat(50_000);
    const r: Rollback = {
      ...buildRollback('r5'),
      reason: long,
      why: long,
      failure: { step: 'undoing', code: 'rollback_timeout', message: long, at: '2026-01-15T10:00:00Z' },
      report: `# Report\n${'line\n'.repeat(20_000)}`,
    };
    const before = JSON.stringify(r);
    const b = boundForStorage(r);
    expect(JSON.stringify(r)).toBe(before);
    expect(b.reason.length).toBe(L.textChars);
    expect(b.reason.endsWith('…[cut]')).toBe(true);
    expect(b.why!.length).toBe(L.textChars);
    expect(b.failure!.message.length).toBe(L.textChars);
    expect(b.report!.length).toBe(L.reportChars);
    expect(b.report).toMatch(/full report was posted in the thread\]$/);
    expect(b.report!.startsWith('# Report\nline\n')).toBe(true);
    expect(boundForStorage(b)).toEqual(b);
  });

  it('caps verification checks and the evidence in them', () => {
    const r = buildRollback('r6');
    r.verification!.checks = Array.from({ length: 500 }, (_, i) => ({
      name: `c${i}`,
      passed: false,
      evidence: { source: 'q'.repeat(10_000), value: 'v', threshold: 't' },
    }));
    const b = boundForStorage(r);
    expect(b.verification!.checks).toHaveLength(L.checks);
    expect(b.verification!.checks[0]!.evidence.source.length).toBe(L.textChars);
  });

  it('bounds events too', () => {
    const e = boundEventForStorage({
      id: 'r7',
      type: 'fail',
      from: 'undoing',
      to: 'reporting',
      actor: { kind: 'system', id: 'bot' },
      at: '2026-01-15T10:00:00Z',
      data: { message: 'x'.repeat(100_000), list: Array.from({ length: 1000 }, (_, i) => i) },
    });
    expect((e.data!.message as string).length).toBe(L.textChars);
    expect(e.data!.list as number[]).toHaveLength(L.arrayItems);
  });
});

describe('cutText', () => {
  it('never splits a surrogate pair and never exceeds the cap', () => {
    const s = '😀'.repeat(100);
    for (let max = 0; max < 30; max++) {
      const c = cutText(s, max);
      expect(c.length).toBeLessThanOrEqual(max);
      expect(c).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    }
    expect(cutText('short', 10)).toBe('short');
  });
});
