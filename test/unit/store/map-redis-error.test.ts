import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/env-schema.js';
import { CodedError } from '../../../src/errors.js';
import { mapRedisError } from '../../../src/store/create-redis-store.js';

describe('mapRedisError', () => {
  it.each([
    ["OOM command not allowed when used memory > 'maxmemory'.", 'oom'],
    [
      "ERR Error running script (call to f_1): @user_script:5: -OOM command not allowed when used memory > 'maxmemory'.",
      'oom',
    ],
    ['NOAUTH Authentication required.', 'auth'],
    ['WRONGPASS invalid username-password pair or user is disabled.', 'auth'],
    ["NOPERM this user has no permissions to run the 'eval' command", 'permission'],
    ["READONLY You can't write against a read only replica.", 'readonly'],
    [
      'MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.',
      'misconf',
    ],
  ])('"%s" is store_refused (%s), with a remedy', (message, reason) => {
    const e = mapRedisError(new Error(message));
    expect(e.code).toBe('store_refused');
    expect(e.details?.reason).toBe(reason);
    expect(e.message).toContain(message.split('\n')[0]);
    expect(e.remedy).toBeTruthy();
  });

  it('anything else is store_unavailable; coded errors pass through', () => {
    expect(mapRedisError(new Error('connect ECONNREFUSED 127.0.0.1:6379')).code).toBe('store_unavailable');
    expect(mapRedisError(new Error('Connection is closed.')).code).toBe('store_unavailable');
    const coded = new CodedError('store_conflict', 'x');
    expect(mapRedisError(coded)).toBe(coded);
  });
});

describe('retention and dry-run settings', () => {
  it('default to 30 days and 10 dry runs per 10 minutes', () => {
    const env = loadEnv({});
    expect([env.RETENTION_DAYS, env.DRY_RUN_LIMIT, env.DRY_RUN_WINDOW_MINUTES]).toEqual([30, 10, 10]);
  });

  it('are validated with the rest, every problem named', () => {
    expect(() =>
      loadEnv({ RETENTION_DAYS: '0', DRY_RUN_LIMIT: 'many', DRY_RUN_WINDOW_MINUTES: '1.5' }),
    ).toThrow(/RETENTION_DAYS[\s\S]*DRY_RUN_LIMIT[\s\S]*DRY_RUN_WINDOW_MINUTES/);
    expect(loadEnv({ RETENTION_DAYS: '7' }).RETENTION_DAYS).toBe(7);
  });
});
