// Installs the scripts the release-manager image ships under ./scripts (scripts/ beside this file):
// the procedure's post-rollback data integrity checks, as real SQL against the world's PostgreSQL.
// Exec and Job commands run in the world's root (their working directory), so a catalog's
// `./scripts/verify-data-integrity.sh` finds them there, as it would in the image's WORKDIR.
import { chmodSync, copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'scripts');

/** Copies the image's scripts into `<root>/scripts`, executable. */
export function writeAppScripts(root: string): void {
  const target = join(root, 'scripts');
  mkdirSync(target, { recursive: true });
  for (const f of readdirSync(SOURCE)) {
    copyFileSync(join(SOURCE, f), join(target, f));
    chmodSync(join(target, f), 0o755);
  }
}
