// Installs the world's `alembic` (alembic.sh beside this file): a stand-in for the tool inside the release-manager image, run by KWOK for
// `kubectl exec` and by the stand-in's Job runner for Job pods. It reads and writes the alembic_version
// table of the world's PostgreSQL, and it knows only the revisions the pod's image ships
// (ALEMBIC_REVISIONS, from releases.ts migrationsShippedBy(); set per container by the stand-in), so:
// - `current` prints `<rev> (head)` (or `<rev>` when the image ships newer ones), and fails when the
//   database is at a revision the image does not ship;
// - `downgrade <rev>` in an old image, with the database at a newer head, fails as alembic does;
// - `history` prints the image's revisions newest first, `<down> -> <rev> (head), <message>`.
// - `stamp REV` needs the current revision to be known too, unless `stamp --purge REV`, as in alembic.
// Failures look like alembic's own: `ERROR [alembic.util.messaging] <msg>` on stderr, `FAILED: <msg>`
// on stdout, exit 255 (alembic calls sys.exit(-1); see alembic/util/messaging.py `err`).
import { chmodSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Writes the world's `alembic` into `dir` (put first on the PATH of exec and Job commands). */
export function writeAlembic(dir: string): void {
  const target = join(dir, 'alembic');
  copyFileSync(join(dirname(fileURLToPath(import.meta.url)), 'alembic.sh'), target);
  chmodSync(target, 0o755);
}
