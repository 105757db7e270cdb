// The App Home tab: every catalogued service at a glance, for the on-call engineer opening the app
// from a phone. Pure builder; the listener reads the rows and publishes on app_home_opened and after
// each rollback changes state (within views.publish's tier 4 limit).
import type { types } from '@slack/bolt';
import { escapeMrkdwn } from '../../escape-mrkdwn.js';
import { context, header, STATE_LABEL, section } from './text.js';

export interface HomeRow {
  service: string;
  /** e.g. "deployment production/release-manager-prod". */
  workload: string;
  /** The live revision and image, or why it could not be read. */
  current: { revision: number; images: string[] } | { unknown: string };
  lastRollback?: { state: string; at: string; by: string; id: string };
  policy: 'propose' | 'auto';
  /** Automatic rollbacks paused until then, by whom. */
  pause?: { until: string; by: string };
  openIncidents: number;
}

/** Two blocks a service (section, divider) under Slack's 100: the rest are counted, not shown. */
const MAX_SERVICES = 45;

const when = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

function rowText(r: HomeRow): string {
  const current =
    'unknown' in r.current
      ? `:warning: current revision unknown: ${escapeMrkdwn(r.current.unknown)}`
      : `revision ${r.current.revision} · \`${r.current.images.map(escapeMrkdwn).join(', ')}\``;
  const last = r.lastRollback
    ? `Last rollback: ${STATE_LABEL[r.lastRollback.state] ?? escapeMrkdwn(r.lastRollback.state)} · ${when(r.lastRollback.at)} · by ${escapeMrkdwn(r.lastRollback.by)} (\`${escapeMrkdwn(r.lastRollback.id)}\`)`
    : 'No rollback recorded.';
  const policy = r.pause
    ? `Policy \`${r.policy}\`, automatic rollbacks *paused* until ${when(r.pause.until)} by ${escapeMrkdwn(r.pause.by)}`
    : `Policy \`${r.policy}\``;
  const incidents = r.openIncidents
    ? ` · :rotating_light: ${r.openIncidents} open incident${r.openIncidents === 1 ? '' : 's'}`
    : '';
  return [
    `*${escapeMrkdwn(r.service)}* · ${escapeMrkdwn(r.workload)}`,
    current,
    last,
    `${policy}${incidents}`,
  ].join('\n');
}

export function buildAppHome(rows: HomeRow[], at: string): types.HomeView {
  const blocks: types.KnownBlock[] = [header('Rollbacks')];
  for (const r of rows.slice(0, MAX_SERVICES)) blocks.push(section(rowText(r)), { type: 'divider' });
  if (rows.length > MAX_SERVICES)
    blocks.push(
      section(`…and ${rows.length - MAX_SERVICES} more services: \`/rollback status\` lists them.`),
    );
  blocks.push(
    context(
      `Updated ${when(at)}. \`/rollback\` opens the rollback form; \`/rollback help\` lists the commands.`,
    ),
  );
  return { type: 'home', blocks };
}
