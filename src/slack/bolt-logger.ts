// Bolt's logger (also handed to its WebClients and the Socket Mode client): its lines go to the bot's
// own logger, so they are JSON like every other line and pass the same redactor. Bolt logs request
// bodies and errors that quote Slack's answers; none of it may carry a secret to the log store.
import { type Logger as BoltLogger, LogLevel } from '@slack/bolt';
import type { Logger } from '../rollback/ports.js';

const ORDER: LogLevel[] = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];

function line(parts: unknown[]): string {
  return parts
    .map((p) => (p instanceof Error ? (p.stack ?? p.message) : typeof p === 'string' ? p : JSON.stringify(p)))
    .join(' ');
}

export function createBoltLogger(
  logger: Logger,
  redact: (text: string) => string,
  initial: LogLevel = LogLevel.WARN,
): BoltLogger {
  let level = initial;
  let name = 'bolt';
  const at =
    (l: LogLevel, write: (msg: string, data?: Record<string, unknown>) => void) =>
    (...msg: unknown[]) => {
      if (ORDER.indexOf(l) < ORDER.indexOf(level)) return;
      write(redact(line(msg)), { source: name });
    };
  return {
    debug: at(LogLevel.DEBUG, logger.info),
    info: at(LogLevel.INFO, logger.info),
    warn: at(LogLevel.WARN, logger.warn),
    error: at(LogLevel.ERROR, logger.error),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: (n) => {
      name = n;
    },
  };
}
