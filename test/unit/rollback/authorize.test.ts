import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { assertMayDecide } from '../../../src/rollback/authorize.js';
import type { Rollback } from '../../../src/rollback/model.js';

const svc = parseCatalog(
  readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8'),
).services.get('release-manager')!;
const r = { requestedBy: { kind: 'user', id: 'U0SRE00001' } } as Rollback;
const user = (id: string, groups: string[] = []) => ({ kind: 'user' as const, id, groups });

describe('approver rules', () => {
  it('lets listed users and members of listed groups approve, and nobody else', () => {
    expect(() => assertMayDecide(svc, r, user('U0SRE00002'), 'approve')).not.toThrow();
    expect(() => assertMayDecide(svc, r, user('U0OTHER', ['S0SREONCALL']), 'approve')).not.toThrow();
    expect(() => assertMayDecide(svc, r, user('U0OTHER', ['S0ELSE']), 'approve')).toThrow(
      /is not an approver for release-manager/,
    );
  });
  it('enforces the second person when configured, but lets requesters cancel their own request', () => {
    const strict = { ...svc, approvers: { ...svc.approvers, requireSecondPerson: true } };
    expect(() => assertMayDecide(svc, r, user('U0SRE00001'), 'approve')).not.toThrow();
    expect(() => assertMayDecide(strict, r, user('U0SRE00001'), 'approve')).toThrow(/needs a second person/);
    expect(() => assertMayDecide(strict, r, user('U0SRE00002'), 'approve')).not.toThrow();
    expect(() => assertMayDecide(strict, r, user('U0SRE00001'), 'cancel')).not.toThrow();
    const otherRequester = { requestedBy: { kind: 'user', id: 'U0SOMEONE' } } as Rollback;
    expect(() => assertMayDecide(strict, otherRequester, user('U0NOBODY'), 'cancel')).toThrow(
      /is not an approver/,
    );
  });
});
