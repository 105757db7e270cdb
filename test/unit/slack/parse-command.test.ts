import { describe, expect, it } from 'vitest';
import { isCodedError } from '../../../src/errors.js';
import { parseCommand } from '../../../src/slack/parse-command.js';

describe('/rollback text', () => {
  it('parses a rollback with flags and a free-text reason', () => {
    expect(parseCommand('release-manager --to-revision=8 --dry-run error rate 8% since 14:30')).toEqual({
      kind: 'rollback',
      service: 'release-manager',
      toRevision: 8,
      dryRun: true,
      reason: 'error rate 8% since 14:30',
    });
    expect(parseCommand('release-manager --to-revision 3')).toMatchObject({
      toRevision: 3,
      dryRun: false,
      reason: '',
    });
  });
  it('knows status, history and help', () => {
    expect(parseCommand('')).toEqual({ kind: 'help' });
    expect(parseCommand('status')).toEqual({ kind: 'status', service: undefined });
    expect(parseCommand('status release-manager')).toEqual({ kind: 'status', service: 'release-manager' });
    expect(parseCommand('history release-manager')).toEqual({ kind: 'history', service: 'release-manager' });
    expect(parseCommand('cancel release-manager')).toEqual({ kind: 'cancel', service: 'release-manager' });
  });
  it('refuses bad revisions and unknown flags with a fix', () => {
    for (const text of ['rm --to-revision=eight', 'rm --to-revision=-1', 'rm --to-revision']) {
      let err: unknown;
      try {
        parseCommand(text);
      } catch (e) {
        err = e;
      }
      expect(isCodedError(err, 'rollback_bad_revision'), text).toBe(true);
      expect((err as { remedy: string }).remedy).toContain('/rollback history');
    }
    expect(() => parseCommand('rm --force')).toThrow('unknown flag `--force`');
    expect(() => parseCommand('history')).toThrow('history needs a service');
    expect(() => parseCommand('cancel')).toThrow('cancel needs a service');
  });
});
