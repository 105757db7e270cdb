// One JSON line per log entry on stdout, passed through the redactor (src/redact.ts): logs leave the
// cluster, and neither configured secrets nor secret-looking values may appear in them.
import { createRedactor } from './redact.js';
import type { Logger } from './rollback/ports.js';

export function createLogger(
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  redact: (text: string) => string = createRedactor().redact,
): Logger {
  const log = (level: string) => (msg: string, data?: Record<string, unknown>) =>
    write(redact(JSON.stringify({ at: new Date().toISOString(), level, msg, ...data })));
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
