// What /proc says of a process: its resident memory and the CPU time it has used. The bench reads
// both for the bot, its anchors and the world's own servers.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second that /proc/<pid>/stat counts in (USER_HZ, 100 on Linux unless told). */
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) / 1024;
}

/** CPU time (user + system, in clock ticks) a process has used so far. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command (which may hold spaces) start at its closing paren; utime and
  // stime are the 12th and 13th of them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

export const cpuSeconds = (pid: number): number => cpuTicks(pid) / CLK_TCK;

/**
 * Waits until `calm()` (which measures one window itself) holds twice in a row. False when
 * `deadline` (performance.now()) passed first.
 */
export async function calmTwice(calm: () => Promise<boolean>, deadline: number): Promise<boolean> {
  for (let inARow = 0; inARow < 2; ) {
    if (performance.now() > deadline) return false;
    inARow = (await calm()) ? inARow + 1 : 0;
  }
  return true;
}
