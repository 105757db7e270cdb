// The catalog's database care: the checks before a downgrade, the data cleanup a person runs after a
// verified rollback, and the integrity checks at the end of verification.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../../src/config/load-catalog.js';

const example = readFileSync(new URL('../../../manifests/catalog.yaml', import.meta.url), 'utf8');
const approvers = 'approvers: { users: [U1] }';

function problems(yaml: string): string[] {
  try {
    parseCatalog(yaml, 'c');
  } catch (e) {
    return (e as { details?: { problems?: string[] } }).details?.problems ?? [(e as Error).message];
  }
  return [];
}

describe('catalog: database care', () => {
  it("puts the procedure's checks, cleanup and integrity scripts in the worked example", () => {
    const svc = parseCatalog(example).services.get('release-manager')!;
    expect(svc.migrations?.historyCommand).toEqual(['alembic', 'history']);
    expect(svc.migrations?.schemaCheck).toEqual({
      command: ['psql', '-U', 'postgres', '-d', 'release_manager', '-c', '\\dt'],
      podSelector: 'app=db',
      expectOutput: 'alembic_version',
      timeoutSeconds: 60,
    });
    const sql = svc.cleanup?.commands.map((c) => c.command.at(-1));
    expect(sql).toEqual([
      'DROP TABLE IF EXISTS schema_migrations_temp',
      'VACUUM FULL',
      'SELECT * FROM release_deployments LIMIT 5',
    ]);
    expect(svc.cleanup?.commands.every((c) => c.podSelector === 'app=db')).toBe(true);
    expect(svc.integrityChecks.map((c) => c.command)).toEqual([
      ['./scripts/verify-data-integrity.sh'],
      ['./scripts/check-orphaned-records.sh'],
      ['./scripts/audit-log-consistency.sh'],
    ]);
  });

  it('defaults: alembic history before every downgrade, no schema check, no cleanup, no integrity checks', () => {
    const svc = parseCatalog(`services:
  a: { namespace: ops, deployment: a, ${approvers}, migrations: { expectedHeadAnnotation: x/head } }
`).services.get('a')!;
    expect(svc.migrations?.historyCommand).toEqual(['alembic', 'history']);
    expect(svc.migrations?.schemaCheck).toBeUndefined();
    expect(svc.cleanup).toBeUndefined();
    expect(svc.integrityChecks).toEqual([]);
  });

  it('refuses a bad regular expression, an empty argv, unknown fields, duplicate names and an empty cleanup', () => {
    expect(
      problems(`services:
  a:
    namespace: ops
    deployment: a
    ${approvers}
    migrations:
      expectedHeadAnnotation: x/head
      schemaCheck: { command: [psql], expectOutput: "([" }
`),
    ).toEqual([
      expect.stringMatching(/migrations\.schemaCheck\.expectOutput: must be a valid regular expression/),
    ]);
    expect(
      problems(`services:
  a:
    namespace: ops
    deployment: a
    ${approvers}
    integrityChecks:
      - { name: x, command: [] }
      - { name: y, command: ["true"], shell: "rm -rf /" }
`),
    ).toEqual([
      expect.stringMatching(/integrityChecks\[0\]\.command: must have at least the program name/),
      expect.stringMatching(/integrityChecks\[1\]: Unrecognized key: "shell"/),
    ]);
    expect(
      problems(`services:
  a:
    namespace: ops
    deployment: a
    ${approvers}
    cleanup: { commands: [{ name: x, command: [a] }, { name: x, command: [b] }] }
`),
    ).toEqual([expect.stringMatching(/cleanup\.commands: give each cleanup command its own name/)]);
    expect(
      problems(
        `services:\n  a: { namespace: ops, deployment: a, ${approvers}, cleanup: { commands: [] } }\n`,
      ),
    ).toEqual([expect.stringMatching(/cleanup\.commands/)]);
  });
});
