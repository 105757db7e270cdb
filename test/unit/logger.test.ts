import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createRedactor } from '../../src/redact.js';

describe('createLogger', () => {
  it('writes one JSON line with every secret redacted', () => {
    const lines: string[] = [];
    const logger = createLogger((l) => lines.push(l), createRedactor(['configured-signing-secret']).redact);
    logger.warn('slack call failed', {
      error: 'invalid_auth for xoxb-1-2-3 (secret configured-signing-secret)',
      url: 'redis://:pw12345@redis:6379',
    });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0] ?? '') as Record<string, string>;
    expect(entry.level).toBe('warn');
    expect(entry.error).toBe('invalid_auth for xoxb-[redacted] (secret [redacted])');
    expect(entry.url).toBe('redis://:***@redis:6379');
  });
});
