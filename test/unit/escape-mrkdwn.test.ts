import { describe, expect, it } from 'vitest';
import { defuseMrkdwn, escapeMrkdwn } from '../../src/escape-mrkdwn.js';
import { findLiveMarkup } from '../support/slack-emulator/live-markup.js';

const assertInert = (text: string) => expect(findLiveMarkup(text)).toEqual([]);

const PAYLOAD = '``` <!channel> <https://evil.example/approve|Approve rollback> <@U123>';

describe('escapeMrkdwn', () => {
  it.each([
    [
      PAYLOAD,
      'ˋˋˋ &lt;!channel&gt; &lt;https:/\u2060/evil.example/approve|Approve rollback&gt; &lt;@U123&gt;',
    ],
    ['a & b < c > d', 'a &amp; b &lt; c &gt; d'],
    ['already &amp; &lt;escaped&gt;', 'already &amp; &lt;escaped&gt;'],
    ['hey @channel and @HERE, @everyone!', 'hey ＠channel and ＠HERE, ＠everyone!'],
    ['mail me@here.example', 'mail me＠here.example'],
    ['see https://evil.example/x', 'see https:/\u2060/evil.example/x'],
    ['<!subteam^S123> <#C123|general> <!here>', '&lt;!subteam^S123&gt; &lt;#C123|general&gt; &lt;!here&gt;'],
    ['`code` and *bold*', 'ˋcodeˋ and *bold*'],
    ['plain text stays', 'plain text stays'],
  ])('%s', (input, output) => {
    expect(escapeMrkdwn(input)).toBe(output);
    expect(escapeMrkdwn(output)).toBe(output);
    assertInert(escapeMrkdwn(input));
    expect(escapeMrkdwn(input)).not.toContain('`');
  });
});

describe('defuseMrkdwn', () => {
  it('keeps the bot formatting and kills live markup', () => {
    const out = defuseMrkdwn(`*svc* on \`img:1\`: ${PAYLOAD} @here`);
    expect(out.startsWith('*svc* on `img:1`: ')).toBe(true);
    assertInert(out);
  });
  it('keeps only the mentions it is told to keep, never broadcasts or links', () => {
    const text =
      'Ask <@U01ABC> or <!subteam^S0GROUP> in <#C0CHAN>; not <!channel> <https://x.example|x> <@U1|name> <@U2>';
    expect(defuseMrkdwn(text)).not.toMatch(/<[@!#]/);
    const kept = defuseMrkdwn(text, new Set(['<@U01ABC>', '<!subteam^S0GROUP>', '<#C0CHAN>', '<!channel>']));
    expect(kept).toContain('<@U01ABC>');
    expect(kept).toContain('<!subteam^S0GROUP>');
    expect(kept).toContain('<#C0CHAN>');
    expect(kept).toContain('&lt;@U2&gt;');
    expect(kept).toContain('&lt;!channel&gt;');
    expect(kept).toContain('&lt;https:/\u2060/x.example|x&gt;');
    expect(kept).toContain('&lt;@U1|name&gt;');
  });
});
