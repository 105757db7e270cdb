// Preloaded into the bot by the bench when BENCH_CPU_PROF=<dir> (`--cpu-prof` is not allowed in
// NODE_OPTIONS): profiles the whole process and writes a .cpuprofile when SIGTERM asks it to stop.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable', () => session.post('Profiler.start'));
  process.prependOnceListener('SIGTERM', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `bot-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
