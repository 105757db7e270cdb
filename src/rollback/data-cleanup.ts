// The procedure's "Data Cleanup After Rollback" (drop the migration's temporary tables, vacuum, check
// consistency), run only when an approver clicks Run cleanup in the thread, after the rollback ended
// verified. Never automatic, whatever the policy: these commands change data, and only a person can
// say that now is the time. One click runs the commands once: the start is committed (compare-and-set
// on the record) before anything runs, so a double click, a second replica or a late click finds it
// taken. The commands run in order in the background and stop at the first failure; each result is
// committed with its output (redacted, bounded) in the audit trail and said in the thread, and the
// report is re-rendered at the end. A cleanup whose process stopped midway is never re-run by the bot:
// the record says what ran, and a person finishes by hand.
import { createHash } from 'node:crypto';
import type { CatalogEntry, PodCommand } from '../config/catalog-schema.js';
import { CodedError, isCodedError } from '../errors.js';
import { escapeMrkdwn } from '../escape-mrkdwn.js';
import { assertMayDecide } from './authorize.js';
import { commandText, excerptOutput, failureLine } from './command-output.js';
import type { Actor, CommandResult, DataCleanup, Notice, Rollback, RollbackEvent } from './model.js';
import type { Clock, KubePort, Logger, StorePort } from './ports.js';
import { runTargetOf } from './read-migration-gate.js';
import { describePlace, outcomeOf, runPodCommand } from './run-pod-command.js';

/** Characters of each command's output kept on the record (the audit trail keeps more). */
const RECORD_OUTPUT_CHARS = 600;
/** Commits of results retry when a checklist tick or a Resume sync moved the record meanwhile. */
const COMMIT_TRIES = 5;

export interface DataCleanupDeps {
  store: StorePort;
  kube: KubePort;
  clock: Clock;
  logger: Logger;
  system: Actor;
  serviceOf: (r: Rollback) => CatalogEntry;
  event: (
    r: Rollback,
    actor: Actor,
    type: 'note' | 'progress',
    data: Record<string, unknown>,
  ) => RollbackEvent;
  renderReport: (r: Rollback, events: RollbackEvent[]) => string;
  kick: (id: string) => void;
  /** Runs the commands after the start is committed (the runner tracks it, for idle()). */
  background: (p: Promise<void>) => void;
  /** A line in the thread now, not through the outbox: for when the store itself failed. */
  say: (thread: { channel: string; ts: string }, text: string) => void;
}

/**
 * Names the commands a Run cleanup button was posted with, so a click runs what the person saw:
 * a catalog changed since (a new command, another argv) refuses the click instead.
 */
export function cleanupFingerprint(commands: readonly PodCommand[]): string {
  const shape = commands.map((c) => [c.name, c.command, c.podSelector ?? '', c.container ?? '']);
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}

/** Why the cleanup cannot be run on this rollback now, or undefined when it can. */
export function cleanupRefusal(r: Rollback, svc: CatalogEntry): string | undefined {
  if (!svc.cleanup?.commands.length) return `${svc.name} has no cleanup commands in the catalog`;
  if (r.dryRun) return 'a dry run changed nothing: there is nothing to clean up';
  if (r.state !== 'completed')
    return `the cleanup runs only after a verified rollback, and this one is ${r.state.replaceAll('_', ' ')}`;
  const c = r.cleanup;
  if (c)
    return c.finished
      ? `the cleanup already ran: started by <@${c.by.id}> at ${c.at}, ${c.finished.outcome}`
      : `the cleanup was already started by <@${c.by.id}> at ${c.at} (${c.results.length} of ${c.commands.length} commands reported back); it is never started twice: finish by hand what it did not`;
  return undefined;
}

const code = (s: string) => `\`${escapeMrkdwn(s)}\``;

/** One result as a thread line: untrusted output escaped, in a code block. */
function resultText(res: CommandResult, i: number, of: number): string {
  const mark = res.passed ? ':white_check_mark:' : ':x:';
  const how =
    res.exitCode === undefined ? `could not run: ${escapeMrkdwn(res.error ?? '')}` : `exited ${res.exitCode}`;
  const body = res.output ? `\n\`\`\`${escapeMrkdwn(res.output)}\`\`\`` : '';
  return `${mark} Cleanup ${i + 1}/${of} *${escapeMrkdwn(res.name)}*: ${code(res.command)} ${how} in ${escapeMrkdwn(res.where)} (${(res.ms / 1000).toFixed(1)} s)${body}`;
}

export function createDataCleanup(deps: DataCleanupDeps) {
  const { store, clock } = deps;

  /**
   * Commits what `build(latest)` returns, re-reading and retrying when someone else committed
   * meanwhile (a checklist tick, Resume sync): the cleanup's fields are only ever written here, so
   * building on the latest record is safe. `build` may throw to refuse (the start's "not yet started").
   */
  async function update(
    id: string,
    build: (r: Rollback) => Promise<{ next: Rollback; event: RollbackEvent }>,
    notices: Notice[],
  ): Promise<Rollback> {
    for (let attempt = 1; ; attempt++) {
      const r = await store.get(id);
      if (!r) throw new CodedError('rollback_not_found', `no rollback ${id}`);
      const { next, event } = await build(r);
      try {
        const saved = await store.commit(
          { state: r.state, version: r.version },
          next,
          event,
          undefined,
          r.thread ? notices : [],
        );
        deps.kick(id);
        return saved;
      } catch (err) {
        if (!isCodedError(err, 'store_conflict') || attempt >= COMMIT_TRIES) throw err;
      }
    }
  }

  const withResult = (r: Rollback, res: CommandResult): Rollback => {
    const c = r.cleanup as DataCleanup;
    return { ...r, cleanup: { ...c, results: [...c.results, res] } };
  };

  async function execute(id: string, svc: CatalogEntry, commands: PodCommand[]): Promise<void> {
    let outcome: 'passed' | 'failed' = 'passed';
    for (const [i, cmd] of commands.entries()) {
      const latest = await store.get(id);
      if (!latest) return;
      const run = await runPodCommand(deps, {
        svc,
        target: runTargetOf(latest),
        spec: cmd,
        purpose: `cleanup-${i}`,
      });
      const res: CommandResult = {
        name: cmd.name,
        command: commandText(run.argv),
        where: run.where,
        passed: run.exitCode === 0,
        ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}),
        ...(run.error ? { error: run.error } : {}),
        output: excerptOutput(run.stdout, run.stderr, RECORD_OUTPUT_CHARS),
        at: clock.now().toISOString(),
        ms: run.ms,
      };
      const failure = res.passed ? '' : ` ${failureLine(excerptOutput(run.stdout, run.stderr), 160)}`;
      await update(
        id,
        async (r) => ({
          next: withResult(r, res),
          event: deps.event(r, deps.system, 'progress', {
            kind: 'cleanup_step',
            milestone: `data cleanup ${i + 1}/${commands.length} "${cmd.name}" (\`${res.command}\` in ${res.where}) ${res.passed ? 'passed' : 'FAILED'}: ${outcomeOf(run)}${failure}`,
            name: cmd.name,
            command: res.command,
            where: res.where,
            passed: res.passed,
            ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}),
            // The audit trail keeps more of the output than the record.
            output: excerptOutput(run.stdout, run.stderr),
          }),
        }),
        [{ kind: 'say', text: resultText(res, i, commands.length) }],
      );
      if (!res.passed) {
        outcome = 'failed';
        break;
      }
    }
    // The finish and the re-rendered report in one commit: the report is rendered from the record as
    // it is committed and from every event, the finish's own included.
    await update(
      id,
      async (r) => {
        const c = r.cleanup as DataCleanup;
        const next: Rollback = {
          ...r,
          cleanup: { ...c, finished: { at: clock.now().toISOString(), outcome } },
        };
        const ran = c.results.length;
        const event = deps.event(r, deps.system, 'progress', {
          kind: 'cleanup_finished',
          milestone:
            outcome === 'passed'
              ? `data cleanup finished: all ${ran} commands passed`
              : `data cleanup stopped at its first failure: ${ran} of ${commands.length} commands ran`,
          outcome,
        });
        const report = deps.renderReport(next, [...(await store.events(id)), event]);
        return { next: { ...next, report }, event };
      },
      [
        {
          kind: 'say',
          text:
            outcome === 'passed'
              ? `:broom: Data cleanup finished: all ${commands.length} commands passed. The stored report is updated.`
              : ':warning: Data cleanup stopped at its first failure; the commands after it did not run. Look at the failure above, then finish by hand. The stored report is updated.',
        },
        // The thread gets the re-rendered report too, so its file matches the stored one.
        {
          kind: 'reportUpdated',
          text: outcome === 'passed' ? 'data cleanup finished' : 'data cleanup stopped at a failure',
        },
      ],
    );
  }

  /**
   * Run cleanup: approvers only (a refusal is audited); only on a completed (verified) rollback of a
   * service with cleanup commands, never twice. `shown` is the fingerprint the button was posted with.
   * Returns once the start is committed; the commands run in the background.
   */
  return async function runCleanup(id: string, actor: Actor, shown?: string): Promise<Rollback> {
    const r = await store.get(id);
    if (!r) throw new CodedError('rollback_not_found', `no rollback ${id}`);
    const svc = deps.serviceOf(r);
    try {
      assertMayDecide(svc, r, actor, 'approve');
    } catch (err) {
      await store.append(
        deps.event(r, actor, 'note', {
          kind: 'unauthorized',
          decision: 'run_cleanup',
          message: (err as Error).message,
        }),
      );
      throw err;
    }
    const commands = svc.cleanup?.commands ?? [];
    const refuseIfTaken = (now: Rollback) => {
      const why = cleanupRefusal(now, svc);
      if (why) throw new CodedError('rollback_wrong_state', why, { details: { state: now.state } });
    };
    refuseIfTaken(r);
    if (shown !== undefined && shown !== cleanupFingerprint(commands))
      throw new CodedError(
        'rollback_wrong_state',
        `the cleanup commands in the catalog changed since this button was posted, so nothing was run`,
        { remedy: 'Check the catalog, then run the cleanup by hand.' },
      );
    const at = clock.now().toISOString();
    const cleanup: DataCleanup = {
      by: actor,
      at,
      commands: commands.map((c) => ({
        name: c.name,
        command: commandText(c.command),
        where: describePlace(c),
      })),
      results: [],
    };
    const saved = await update(
      id,
      async (now) => {
        refuseIfTaken(now);
        return {
          next: { ...now, cleanup },
          event: deps.event(now, actor, 'note', { kind: 'cleanup_started', commands: cleanup.commands }),
        };
      },
      [
        {
          kind: 'say',
          text: `:broom: Data cleanup started by ${escapeMrkdwn(actor.name ?? actor.id)}: ${commands.length} command(s), in order, stopping at the first failure.`,
        },
      ],
    );
    deps.background(
      execute(id, svc, commands).catch((err: unknown) => {
        // The store failed under it (a result or the finish could not be committed): said in the
        // thread directly, since the outbox lives in the store; the record keeps what was committed.
        const message = (err as Error).message;
        deps.logger.error(`rollback ${id}: data cleanup stopped`, { error: message });
        if (saved.thread)
          deps.say(
            saved.thread,
            `:warning: Data cleanup stopped: ${escapeMrkdwn(message)}. It is not started again; see the audit trail for what ran and finish by hand.`,
          );
      }),
    );
    return saved;
  };
}
