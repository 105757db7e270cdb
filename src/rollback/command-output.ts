// What is kept of a command's output (a schema check, a cleanup command, an integrity check): it goes
// into the audit trail, the thread and the report, so it is redacted here with the redactor's patterns
// (a `PGPASSWORD=…` or a connection URL printed by psql never leaves the command), and bounded: the
// head says what ran, the tail how it ended, so both are kept and the middle is cut. The store
// redacts again with the configured secrets before anything is written.
import { createRedactor } from '../redact.js';

/** Characters of output kept per command: under the store's 2,000-character cap for any text. */
export const OUTPUT_CHARS = 1_800;

const patterns = createRedactor();

/** stdout, then stderr (marked), redacted and cut to `max` characters around a marker saying how much went. */
export function excerptOutput(stdout: string, stderr: string, max = OUTPUT_CHARS): string {
  const out = stdout.trim();
  const err = stderr.trim();
  const text = patterns.redact(err ? `${out}${out ? '\n' : ''}[stderr] ${err}` : out);
  if (text.length <= max) return text;
  const marker = (n: number) => `\n…[${n} characters cut]…\n`;
  const room = max - marker(text.length).length;
  const head = Math.floor(room * 0.4);
  const tail = room - head;
  return `${text.slice(0, head)}${marker(text.length - head - tail)}${text.slice(text.length - tail)}`;
}

/**
 * The line of a failed command's output that says why, for one-line evidence: the first that names an
 * error (psql's `ERROR:  relation … does not exist`, alembic's `FAILED: …`), else the last with a word
 * in it (not psql's `^` under the error position).
 */
export function failureLine(text: string, max = 200): string {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^\[stderr\]\s*/, '').trim())
    .filter((l) => /[A-Za-z0-9]/.test(l));
  const line = lines.find((l) => /\b(error|fatal|failed|panic)\b/i.test(l)) ?? lines.at(-1) ?? '';
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** The last line that says something, for one-line evidence (a table cell, a thread line). */
export function lastLine(text: string, max = 200): string {
  const line =
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? '';
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/**
 * An argv as shown and recorded (thread, audit trail, report): joined, with the same patterns
 * redacted, since a catalog command may carry a password (`psql postgres://u:p@db/x`).
 */
export function commandText(argv: readonly string[]): string {
  return patterns.redact(argv.join(' '));
}

/** Any other text about a command (an error naming its argv), with the same patterns redacted. */
export const redactText = (text: string): string => patterns.redact(text);
