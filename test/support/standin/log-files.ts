// Container logs in CRI format (what KWOK's log reader requires): "<RFC3339Nano> <stream> F <line>".
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function cri(lines: [string, string][]): string {
  const base = Date.parse('2026-01-15T14:30:00Z');
  return lines
    .map(([stream, text], i) => `${new Date(base + i * 1000).toISOString()} ${stream} F ${text}\n`)
    .join('');
}

/** What a bad release logs from a hostile client (tests look for it, inert, in the thread). */
export const HOSTILE_LOG_TEXT =
  '``` <!channel> <https://evil.example/approve|Approve rollback> <@U0MALLORY9> Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJlLXN0b2xlbg';

export interface LogFiles {
  good: string;
  bad: string;
  badPrevious: string;
}

export function writeLogFiles(dir: string): LogFiles {
  const files = {
    good: join(dir, 'good.log'),
    bad: join(dir, 'bad.log'),
    badPrevious: join(dir, 'bad-previous.log'),
  };
  writeFileSync(
    files.good,
    cri([
      ['stdout', 'INFO starting release-manager'],
      ['stdout', 'INFO connected to database release_manager'],
      ['stdout', 'INFO listening on :8080'],
      ['stdout', 'INFO GET /api/releases 200 31ms'],
    ]),
  );
  const badLines: [string, string][] = [
    ['stdout', 'INFO starting release-manager'],
    ['stdout', 'INFO connected to database release_manager'],
    ['stderr', "ERROR unhandled exception in GET /api/releases: KeyError: 'deployment_window'"],
    [
      'stderr',
      'ERROR Traceback (most recent call last): File "/app/release_manager/api.py", line 212, in list_releases',
    ],
    ['stdout', 'INFO GET /api/releases 500 2304ms'],
    ['stderr', 'ERROR database query timeout after 2000ms: SELECT * FROM release_deployments'],
    ['stderr', 'ERROR health check failed: dependency release_deployments unavailable'],
    // Applications log what attackers send them: markup that would ping or link in Slack, and a
    // credential. Both must reach the thread inert and redacted.
    ['stderr', `ERROR rejected request: ${HOSTILE_LOG_TEXT}`],
  ];
  writeFileSync(files.bad, cri(badLines));
  writeFileSync(files.badPrevious, cri([...badLines, ['stderr', 'ERROR fatal: exiting with code 1']]));
  return files;
}
