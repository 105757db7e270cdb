import { describe, expect, it } from 'vitest';
import { isCodedError } from '../../../src/errors.js';
import { isHelp, parseCommand } from '../../../src/slack/parse-command.js';

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
    expect(parseCommand('pause release-manager')).toEqual({ kind: 'pause', service: 'release-manager' });
    expect(parseCommand('resume release-manager')).toEqual({ kind: 'resume', service: 'release-manager' });
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
    expect(() => parseCommand('pause')).toThrow('pause needs a service');
    expect(() => parseCommand('resume')).toThrow('resume needs a service');
  });

  it.each([
    ['release-manager —to-revision=3', { toRevision: 3, dryRun: false }],
    ['release-manager –dry-run', { toRevision: 0, dryRun: true }],
    ['release-manager −−dry-run', { toRevision: 0, dryRun: true }],
    ['release-manager ——dry-run', { toRevision: 0, dryRun: true }],
    ['release-manager ‐‐dry-run', { toRevision: 0, dryRun: true }],
    ['release-manager －－dry-run', { toRevision: 0, dryRun: true }],
    ['release-manager —to–revision 3 –dry–run', { toRevision: 3, dryRun: true }],
    ['release-manager −to-revision=12 because — it broke', { toRevision: 12, reason: 'because — it broke' }],
  ])('reads the dashes phones substitute as -- in %j', (text, expected) => {
    expect(parseCommand(text)).toMatchObject({ kind: 'rollback', service: 'release-manager', ...expected });
  });
  it('refuses unknown flags and a flag first whatever the dash', () => {
    expect(() => parseCommand('rm —force')).toThrow('unknown flag `--force`');
    expect(() => parseCommand('—dry-run rm')).toThrow('the service comes first');
  });
  it('shows what was typed in an error without letting it format or ping', () => {
    expect(() => parseCommand('rm --to-revision=`<!channel>`')).toThrow(
      '"ˋ&lt;!channel&gt;ˋ" is not a revision number',
    );
  });

  it('isHelp (answered in the ack) agrees with parseCommand on what is help, except no text (the form)', () => {
    // `/rollback` alone opens the modal in Slack; the parser (the CLI's too) still reads it as help.
    expect([isHelp(''), isHelp('  ')]).toEqual([false, false]);
    const texts = ['help', ' help ', 'help me', 'help\tstatus', 'helpme', 'status', 'release-manager help'];
    for (const t of texts) {
      let parsed: string;
      try {
        parsed = parseCommand(t).kind;
      } catch {
        parsed = 'error';
      }
      expect([t, isHelp(t)]).toEqual([t, parsed === 'help']);
    }
  });
});
