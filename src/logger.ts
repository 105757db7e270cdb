// One JSON line per log entry on stdout. Values that look like Slack or bearer tokens are masked,
// because logs leave the cluster and tokens must never appear in them.
import type { Logger } from './rollback/ports.js';

const SECRET = /\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|Bearer\s+[A-Za-z0-9._~+/-]+=*)/g;

export function redact(text: string): string {
  return text.replace(SECRET, (m) => `${m.slice(0, 5)}…[redacted]`);
}

export function createLogger(write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Logger {
  const log = (level: string) => (msg: string, data?: Record<string, unknown>) =>
    write(redact(JSON.stringify({ at: new Date().toISOString(), level, msg, ...data })));
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
