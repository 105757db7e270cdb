import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED } from '../../src/redact.js';

const SIGNING = '8f14e45fceea167a5a36dedd4bea2543';
const ROUTING = 'R0UTINGKEY0123456789abcdefABCDEF';
const { redact, redactValue } = createRedactor([
  SIGNING,
  'xoxb-configured-bot-token',
  ROUTING,
  '',
  undefined,
  'short',
]);

describe('createRedactor', () => {
  it.each([
    ['Authorization: Bearer abc.def-ghi', `Authorization: Bearer ${REDACTED}`],
    ['curl -H "authorization: bearer s3cr3tvalue"', `curl -H "authorization: bearer ${REDACTED}"`],
    ['got bearer abcdef123456 from the proxy', `got bearer ${REDACTED} from the proxy`],
    ['BEARER ABCDEFGHIJ==', `BEARER ${REDACTED}`],
    ['Authorization: Basic dXNlcjpwYXNz', `Authorization: Basic ${REDACTED}`],
    [
      'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ok',
      `token ${REDACTED} ok`,
    ],
    ['leaked xoxb-1234-5678-abcdEFGH in a log', `leaked xoxb-${REDACTED} in a log`],
    ['user token xoxp-1-2-3 and xapp-1-A0-99-ffff', `user token xoxp-${REDACTED} and xapp-${REDACTED}`],
    ['routing_key=0123456789abcdef0123456789abcdef', `routing_key=${REDACTED}`],
    ['{"routing_key":"0123456789abcdef0123456789abcdef"}', `{"routing_key":"${REDACTED}"}`],
    ['integration key 0123456789abcdef0123456789ABCDEF', `integration key ${REDACTED}`],
    ['routing key is abcdefabcdefabcdefabcdefabcdef12', `routing key is ${REDACTED}`],
    [`signature checked with ${SIGNING}.`, `signature checked with ${REDACTED}.`],
    [`key ${ROUTING} configured`, `key ${REDACTED} configured`],
    ['the xoxb-configured-bot-token', `the ${REDACTED}`],
    [
      'connect postgres://app:hunter2@db.internal:5432/app failed',
      'connect postgres://app:***@db.internal:5432/app failed',
    ],
    ['redis://:s3cret@127.0.0.1:6379/0', 'redis://:***@127.0.0.1:6379/0'],
    ['GET /metrics?token=abc123&x=1', `GET /metrics?token=${REDACTED}&x=1`],
    ['https://h/api?apikey=zzz&password=p%40ss', `https://h/api?apikey=${REDACTED}&password=${REDACTED}`],
    ['PGPASSWORD=hunter2 psql -h db', `PGPASSWORD=${REDACTED} psql -h db`],
    ['env password=hunter2, user=app', `env password=${REDACTED}, user=app`],
    ['SLACK_SIGNING_SECRET: abcdef', `SLACK_SIGNING_SECRET: ${REDACTED}`],
    ['{"password": "hunter2"}', `{"password": "${REDACTED}"}`],
    // Left alone: ordinary text, short configured values, revision numbers, Slack ids.
    ['error rate 8% since 14:30 on revision 12', 'error rate 8% since 14:30 on revision 12'],
    ['a short value', 'a short value'],
    ['<@U123ABC> approved rollback 0f3a', '<@U123ABC> approved rollback 0f3a'],
    ['https://example.com/path?page=2', 'https://example.com/path?page=2'],
  ])('%s', (input, output) => {
    expect(redact(input)).toBe(output);
    expect(redact(output)).toBe(output);
  });

  it('masks the URL-encoded form of a configured secret too', () => {
    const r = createRedactor(['p@ss/w0rd!x']);
    expect(r.redact('a=p%40ss%2Fw0rd!x')).not.toContain('w0rd');
  });

  it('redacts deep values without touching numbers or the input', () => {
    const record = {
      id: 'r1',
      token: 7,
      reason: 'db at postgres://u:pw@h/db',
      nested: [{ message: 'xoxb-1-2-3' }, { routing_key: 'anything-at-all' }],
      headers: { Authorization: 'Bearer abcdefgh' },
    };
    expect(redactValue(record)).toEqual({
      id: 'r1',
      token: 7,
      reason: 'db at postgres://u:***@h/db',
      nested: [{ message: `xoxb-${REDACTED}` }, { routing_key: REDACTED }],
      headers: { Authorization: `Bearer ${REDACTED}` },
    });
    expect(record.nested[0]?.message).toBe('xoxb-1-2-3');
  });
});
