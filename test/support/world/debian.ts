// The world's non-Kubernetes servers come from Debian packages. When a binary is missing we install the
// package if we are root (fresh CI machine), otherwise we stop with the exact command to run.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { WorldError } from './proc.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface DebianNeed {
  bin: string;
  pkg: string;
}

const worldNeeds: DebianNeed[] = [
  { bin: '/usr/bin/redis-server', pkg: 'redis-server' },
  { bin: `${PG_BIN}/postgres`, pkg: 'postgresql' },
  { bin: '/usr/bin/psql', pkg: 'postgresql-client' },
  { bin: '/usr/bin/prometheus', pkg: 'prometheus' },
  { bin: '/usr/bin/prometheus-alertmanager', pkg: 'prometheus-alertmanager' },
  { bin: '/usr/bin/openssl', pkg: 'openssl' },
];

export function ensureDebianPackages(log: (line: string) => void, needs: DebianNeed[] = worldNeeds): void {
  const missing = [...new Set(needs.filter((n) => !existsSync(n.bin)).map((n) => n.pkg))];
  if (missing.length === 0) return;
  const line = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new WorldError('debian-packages', `missing ${missing.join(', ')}; run as root:\n  ${line}`);
  }
  log(`[world] installing Debian packages: ${missing.join(' ')}`);
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    // Package scripts must not start the system-wide services: the world runs its own on free ports.
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      stdio: 'inherit',
      env: { ...env, RUNLEVEL: '1' },
    });
  } catch (err) {
    throw new WorldError('debian-packages', `"${line}" failed: ${(err as Error).message}`);
  }
  const still = needs.filter((n) => !existsSync(n.bin));
  if (still.length > 0) {
    throw new WorldError(
      'debian-packages',
      `still missing after install: ${still.map((n) => n.bin).join(', ')}`,
    );
  }
}
