// Requests from another workspace or another app are refused before any listener runs. With a single
// bot token, Bolt authorizes every request whose signature checks out, whatever team it names; a
// signing secret shared between apps, or an org-wide install, would otherwise let a foreign workspace
// drive our rollbacks. Pinned ids come from SLACK_TEAM_ID / SLACK_APP_ID; unset means not pinned.
// A request that does not say which team or app it is from is refused when that id is pinned (fail closed).
import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import type { Logger } from '../../rollback/ports.js';

export interface Pin {
  /** T… (a workspace) or E… (an Enterprise Grid org). */
  teamId?: string;
  /** A… */
  appId?: string;
}

export interface Origin {
  kind: 'command' | 'action' | 'event' | 'other';
  teams: string[];
  appId: string | undefined;
  userId: string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};

/** Which team(s), app and user a Slack request says it comes from (every shape Bolt dispatches). */
export function requestOrigin(raw: unknown): Origin {
  const body = obj(raw);
  const team = obj(body.team);
  const user = obj(body.user);
  const enterprise = obj(body.enterprise);
  const view = obj(body.view);
  const kind =
    typeof body.command === 'string'
      ? 'command'
      : body.type === 'event_callback'
        ? 'event'
        : typeof body.type === 'string'
          ? 'action'
          : 'other';
  const teams = [
    str(body.team_id),
    str(team.id),
    str(user.team_id),
    str(view.team_id),
    str(body.enterprise_id),
    str(enterprise.id),
  ].filter((t): t is string => t !== undefined);
  return {
    kind,
    teams: [...new Set(teams)],
    appId: str(body.api_app_id) ?? str(view.app_id),
    userId: str(body.user_id) ?? str(user.id),
  };
}

/** Why the request is refused, or undefined when it is ours. */
export function foreignBecause(o: Origin, pin: Pin): string | undefined {
  if (pin.teamId && !o.teams.includes(pin.teamId))
    return `team ${o.teams.join(',') || 'unknown'} is not ${pin.teamId}`;
  if (pin.appId && o.appId !== pin.appId) return `app ${o.appId ?? 'unknown'} is not ${pin.appId}`;
  return undefined;
}

export const FOREIGN_TEXT = ':no_entry: This bot serves another workspace; nothing was done.';

export function pinWorkspace(pin: Pin, logger: Logger): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const origin = requestOrigin(args.body);
    const why = foreignBecause(origin, pin);
    if (!why) {
      await args.next();
      return;
    }
    logger.warn('Slack request from another workspace or app refused', {
      why,
      kind: origin.kind,
      user: origin.userId,
    });
    // Acknowledged (so Slack does not retry or show a timeout), never passed on: no listener runs.
    const ack = (args as { ack?: (response?: unknown) => Promise<void> }).ack;
    if (!ack) return; // events: Bolt has acknowledged them already
    if (origin.kind === 'command') await ack({ response_type: 'ephemeral', text: FOREIGN_TEXT });
    else await ack();
  };
}
