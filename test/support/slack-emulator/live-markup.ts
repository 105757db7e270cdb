// A test-only detector of live Slack markup in text the bot posted: what would ping people or turn
// into a link if it came from untrusted text. Not a contract check (Slack accepts all of it); tests
// call it on messages whose untrusted parts carried a hostile payload and expect no finding.
//
// Flagged: <!channel> <!here> <!everyone> (any label), <url> and <url|label> links, user and channel
// mentions other than the ones the test allows (the bot's own approvers), bare @channel/@here/@everyone
// words, and bare scheme:// URLs (Slack links them, and may unfurl them).

export interface LiveMarkupOptions {
  /** Mentions the bot writes itself and may keep, exactly as written: '<@U0APPROVER>', '<!subteam^S1>'. */
  allow?: string[];
}

export function findLiveMarkup(text: string, o: LiveMarkupOptions = {}): string[] {
  const allow = new Set(o.allow ?? []);
  const found: string[] = [];
  for (const m of text.matchAll(/<([^<>]*)>/g)) {
    const inner = m[1] ?? '';
    if (allow.has(m[0])) continue;
    if (/^!(channel|here|everyone)\b/i.test(inner)) found.push(`broadcast ${m[0]}`);
    else if (/^[a-z][a-z0-9+.-]*:/i.test(inner)) found.push(`link ${m[0]}`);
    else if (/^[@#!]/.test(inner)) found.push(`mention ${m[0]}`);
  }
  for (const m of text.matchAll(/(?:^|[^\w<!])@(channel|here|everyone)\b/gi))
    found.push(`bare ${m[0].trim()}`);
  for (const m of text.matchAll(/(?<![<\w|])[a-z][a-z0-9+.-]*:\/\/[^\s<>|]+/gi)) found.push(`url ${m[0]}`);
  return found;
}
