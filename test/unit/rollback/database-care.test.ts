// The pure parts of database care: reading a migration history, what is kept of a command's output,
// which pod a command runs in, when a cleanup may run, and the checks before a downgrade failing closed.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../../src/config/load-catalog.js';
import { commandText, excerptOutput, failureLine, lastLine } from '../../../src/rollback/command-output.js';
import { cleanupFingerprint, cleanupRefusal } from '../../../src/rollback/data-cleanup.js';
import type { PodSnapshot } from '../../../src/rollback/kube-types.js';
import { historyRevisions } from '../../../src/rollback/migration-heads.js';
import type { Rollback } from '../../../src/rollback/model.js';
import type { ExecResult, KubePort } from '../../../src/rollback/ports.js';
import { checkBeforeDowngrade } from '../../../src/rollback/pre-downgrade-checks.js';
import { removeJob } from '../../../src/rollback/run-in-current-revision.js';
import { pickRunningPod } from '../../../src/rollback/run-pod-command.js';

const catalog = parseCatalog(
  readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8'),
);
const svc = catalog.services.get('release-manager')!;

describe('migration history', () => {
  it("reads alembic's lines, merges and verbose output, and only revision positions", () => {
    const out = `INFO  [alembic.runtime.migration] Context impl PostgresqlImpl -> ignored
1975ea83b712 -> 27c6a30d7c24 (shoppingcart) (head), add shopping cart table
ae1027a6acf, 27c6a30d7c24 -> 53fffde5ad5 (head) (mergepoint), merge ae1 and 27c
<base> -> 1975ea83b712 (branchpoint), create account table; revert aaa111 later -> zzz999
Rev: 9c2b3f1a4e5d (head)
Parent: 1975ea83b712
    revert bbb222 changes`;
    expect(historyRevisions(out)).toEqual(['27c6a30d7c24', '53fffde5ad5', '1975ea83b712', '9c2b3f1a4e5d']);
    // A revision mentioned in a message, a log line or a Parent: line is not listed as one.
    expect(historyRevisions(out)).not.toContain('aaa111');
    expect(historyRevisions(out)).not.toContain('zzz999');
    expect(historyRevisions(out)).not.toContain('bbb222');
    expect(historyRevisions('')).toEqual([]);
    expect(historyRevisions('FAILED: No config file')).toEqual([]);
  });
});

describe('command output as kept', () => {
  it('redacts secrets a command prints, before anything keeps them', () => {
    const out = excerptOutput(
      'connecting to postgres://app:s3cr3tpass@db:5432/x\nPGPASSWORD=hunter2hunter2',
      '',
    );
    expect(out).not.toMatch(/s3cr3tpass|hunter2hunter2/);
    expect(out).toContain('postgres://app:***@db');
  });

  it('keeps the head and the tail of long output and says how much was cut', () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `row ${i}`).join('\n');
    const out = excerptOutput(lines, 'ERROR: the end', 600);
    expect(out.length).toBeLessThanOrEqual(600);
    expect(out.startsWith('row 0\nrow 1')).toBe(true);
    expect(out.endsWith('[stderr] ERROR: the end')).toBe(true);
    expect(out).toMatch(/…\[\d+ characters cut\]…/);
    expect(excerptOutput('short', '')).toBe('short');
    expect(lastLine('a\n\nlast one\n  \n')).toBe('last one');
  });

  it("picks the line that says why a command failed, not psql's caret", () => {
    const psql = excerptOutput(
      '',
      'ERROR:  relation "releases" does not exist\nLINE 1: SELECT count(*) FROM releases\n                             ^',
    );
    expect(failureLine(psql)).toBe('ERROR:  relation "releases" does not exist');
    expect(failureLine("INFO x\nFAILED: Can't locate revision identified by 'aaa111'")).toMatch(
      /^FAILED: Can't locate/,
    );
    expect(failureLine('one\ntwo\n  ^')).toBe('two');
  });

  it('redacts a secret in a command line as it is shown and recorded', () => {
    expect(commandText(['psql', 'postgres://app:pw123456@db/x', '-c', 'select 1'])).toBe(
      'psql postgres://app:***@db/x -c select 1',
    );
  });
});

const pod = (name: string, o: Partial<PodSnapshot> & { running?: boolean } = {}): PodSnapshot => ({
  name,
  phase: 'Running',
  ready: true,
  nodeName: 'n',
  images: ['postgres:15'],
  podTemplateHash: 'h',
  deleting: false,
  containers: [
    {
      name: 'app',
      ready: o.ready ?? true,
      running: o.running ?? true,
      restartCount: 0,
      waitingReason: undefined,
      exitCode: undefined,
      terminatedReason: undefined,
      lastTerminatedReason: undefined,
    },
  ],
  ...o,
});

describe('which pod a command runs in', () => {
  it('takes a running pod, a Ready one first, never one being deleted or with the container not running', () => {
    expect(pickRunningPod([pod('a', { ready: false }), pod('b')], undefined)?.name).toBe('b');
    expect(pickRunningPod([pod('a', { ready: false })], undefined)?.name).toBe('a');
    expect(pickRunningPod([pod('a', { deleting: true }), pod('b', { phase: 'Pending' })], undefined)).toBe(
      undefined,
    );
    expect(pickRunningPod([pod('a', { running: false })], undefined)).toBeUndefined();
    expect(pickRunningPod([pod('a')], 'sidecar')).toBeUndefined();
  });
});

const completed = {
  id: 'r1',
  service: 'release-manager',
  namespace: 'production',
  deployment: 'release-manager-prod',
  state: 'completed',
  dryRun: false,
  requestedBy: { kind: 'user', id: 'U1' },
} as Rollback;

describe('when the data cleanup may run', () => {
  it('only after a verified rollback of a service with cleanup commands, and only once', () => {
    expect(cleanupRefusal(completed, svc)).toBeUndefined();
    expect(cleanupRefusal({ ...completed, state: 'failed' }, svc)).toMatch(/only after a verified rollback/);
    expect(cleanupRefusal({ ...completed, state: 'verifying' }, svc)).toMatch(/this one is verifying/);
    expect(cleanupRefusal({ ...completed, dryRun: true }, svc)).toMatch(/dry run/);
    expect(cleanupRefusal(completed, { ...svc, cleanup: undefined })).toMatch(/no cleanup commands/);
    const started = {
      ...completed,
      cleanup: { by: { kind: 'user' as const, id: 'U2' }, at: 't', commands: [], results: [] },
    };
    expect(cleanupRefusal(started, svc)).toMatch(/already started by <@U2>.*never started twice/);
    expect(
      cleanupRefusal(
        { ...started, cleanup: { ...started.cleanup, finished: { at: 't2', outcome: 'failed' } } },
        svc,
      ),
    ).toMatch(/already ran.*failed/);
  });

  it('fingerprints the commands a button was posted with: any change to them changes it', () => {
    const cmds = svc.cleanup!.commands;
    const f = cleanupFingerprint(cmds);
    expect(f).toMatch(/^[0-9a-f]{16}$/);
    expect(cleanupFingerprint(structuredClone(cmds))).toBe(f);
    const other = structuredClone(cmds);
    other[1]!.command = ['psql', '-c', 'VACUUM'];
    expect(cleanupFingerprint(other)).not.toBe(f);
    expect(cleanupFingerprint(cmds.slice(0, 2))).not.toBe(f);
  });
});

/** A kube that runs exec from a script and has no workload revisions (so no current image is found). */
function fakeKube(execs: Record<string, ExecResult | Error>, pods: PodSnapshot[]): KubePort {
  return {
    listPods: async () => pods,
    exec: async (_ns: string, _pod: string, _c: string | undefined, argv: string[]) => {
      const r = execs[argv.join(' ')];
      if (!r) throw new Error(`unexpected exec ${argv.join(' ')}`);
      if (r instanceof Error) throw r;
      return r;
    },
    readJob: async () => undefined,
    deleteJob: async () => undefined,
  } as unknown as KubePort;
}

const clock = { now: () => new Date('2026-01-15T10:00:00Z'), sleep: async () => {} };
const quiet = { warn() {} };
const target = {
  id: 'r1',
  namespace: 'production',
  kind: 'Deployment' as const,
  deployment: 'release-manager-prod',
};
// A workload whose current template has no revision: a command "with the current image" cannot run.
const noRevision = {
  d: {
    kind: 'Deployment',
    uid: 'u1',
    namespace: 'production',
    name: 'release-manager-prod',
    template: {},
    selector: 'app=x',
  },
  sets: [],
} as never;
const SCHEMA = 'psql -U postgres -d release_manager -c \\dt';

describe('checks before a downgrade', () => {
  it('fail closed when the history cannot be read with the current image', async () => {
    const kube = fakeKube(
      { [SCHEMA]: { stdout: ' public | alembic_version | table', stderr: '', exitCode: 0 } },
      [pod('db-1')],
    );
    const checks = await checkBeforeDowngrade(
      { kube, clock, logger: quiet },
      svc,
      target,
      noRevision,
      'aaa111',
    );
    expect(checks.map((c) => [c.name, c.passed])).toEqual([
      ['migration history', false],
      ['schema check', true],
    ]);
    expect(checks[0]?.detail).toMatch(
      /`alembic history` could not run: .*no revision .* for its current template/,
    );
    expect(checks[1]).toMatchObject({ where: 'pod db-1', command: SCHEMA });
    expect(checks[1]?.detail).toMatch(/exited 0 in pod db-1 and its output matches \/alembic_version\//);
  });

  it('fail the schema check on a non-zero exit, output that does not match, no db pod, or an exec error', async () => {
    const run = async (result: ExecResult | Error, pods = [pod('db-1')]) =>
      (
        await checkBeforeDowngrade(
          { kube: fakeKube({ [SCHEMA]: result }, pods), clock, logger: quiet },
          svc,
          target,
          noRevision,
          'aaa111',
        )
      )[1];
    expect(await run({ stdout: '', stderr: 'psql: error: connection refused', exitCode: 2 })).toMatchObject({
      passed: false,
      detail: expect.stringMatching(/exited 2 in pod db-1: psql: error: connection refused/),
    });
    expect(await run({ stdout: 'Did not find any relations.', stderr: '', exitCode: 0 })).toMatchObject({
      passed: false,
      detail: expect.stringMatching(/exited 0 in pod db-1 but its output does not match \/alembic_version\//),
    });
    expect(await run({ stdout: '', stderr: '', exitCode: 0 }, [])).toMatchObject({
      passed: false,
      detail: expect.stringMatching(/could not run: no running pod matches app=db in production/),
    });
    expect(await run(new Error('exec timed out after 60000 ms'))).toMatchObject({
      passed: false,
      detail: expect.stringMatching(/could not run: exec timed out/),
    });
  });
});

describe('removing a Job whose outcome is read', () => {
  it('logs a failed removal with the Job and why, and never throws it', async () => {
    const warned: { msg: string; data?: Record<string, unknown> }[] = [];
    const logger = { warn: (msg: string, data?: Record<string, unknown>) => warned.push({ msg, data }) };
    const failing = {
      deleteJob: async () => {
        throw new Error('jobs.batch "rb-head-x" is forbidden: cannot delete');
      },
    } as unknown as KubePort;
    await expect(
      removeJob({ kube: failing, clock, logger }, 'production', 'rb-head-x'),
    ).resolves.toBeUndefined();
    expect(warned).toHaveLength(1);
    expect(warned[0]?.msg).toMatch(/ttlSecondsAfterFinished/);
    expect(warned[0]?.data).toMatchObject({ namespace: 'production', job: 'rb-head-x' });
    expect(String(warned[0]?.data?.error)).toContain('forbidden');

    const deleted: string[] = [];
    const working = {
      deleteJob: async (_ns: string, name: string) => void deleted.push(name),
    } as unknown as KubePort;
    await removeJob({ kube: working, clock, logger }, 'production', 'rb-head-y');
    expect(deleted).toEqual(['rb-head-y']);
    expect(warned).toHaveLength(1);
  });
});
