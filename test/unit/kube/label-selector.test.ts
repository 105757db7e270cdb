// The in-memory label selector the shared pods cache filters by: the apiserver's syntax and meaning.
import { describe, expect, it } from 'vitest';
import { parseLabelSelector } from '../../../src/kube/label-selector.js';

const matches = (selector: string | undefined, labels: Record<string, string>) =>
  parseLabelSelector(selector)(labels);

describe('parseLabelSelector', () => {
  it('matches everything when empty or absent', () => {
    expect(matches(undefined, {})).toBe(true);
    expect(matches('', { app: 'x' })).toBe(true);
  });

  it('reads equality, inequality and their spellings', () => {
    expect(matches('app=ledger', { app: 'ledger' })).toBe(true);
    expect(matches('app==ledger', { app: 'ledger' })).toBe(true);
    expect(matches('app = ledger', { app: 'ledger' })).toBe(true);
    expect(matches('app=ledger', { app: 'ledger-2' })).toBe(false);
    expect(matches('app=ledger', {})).toBe(false);
    expect(matches('tier!=db', { tier: 'web' })).toBe(true);
    expect(matches('tier!=db', {})).toBe(true);
    expect(matches('tier!=db', { tier: 'db' })).toBe(false);
  });

  it('reads set requirements and existence, ANDed by commas outside parentheses', () => {
    const s = 'app in (a, b),env notin (prod),team,!legacy';
    expect(matches(s, { app: 'b', env: 'dev', team: 'x' })).toBe(true);
    expect(matches(s, { app: 'c', env: 'dev', team: 'x' })).toBe(false);
    expect(matches(s, { app: 'a', env: 'prod', team: 'x' })).toBe(false);
    expect(matches(s, { app: 'a', team: 'x' })).toBe(true);
    expect(matches(s, { app: 'a', env: 'dev' })).toBe(false);
    expect(matches(s, { app: 'a', env: 'dev', team: 'x', legacy: '' })).toBe(false);
  });

  it('refuses what it cannot read instead of matching everything', () => {
    expect(() => parseLabelSelector('app in a,b')).toThrow(/cannot read label selector/);
  });
});
