// Untrusted text (pod names and logs, alert summaries and labels, Kubernetes messages, images,
// people's reasons) must never speak in Slack: no ping, no link, no way out of a code span.
// Pure and SDK-free on purpose, and outside src/slack: the domain composes a few Slack lines itself
// (incident headlines, signal descriptions) and may not import the Slack adapter.
//
// Every function here is idempotent: escaping an escaped value changes nothing, so a value escaped
// where it is embedded and then again at the edge (the notifier) is not shown as `&amp;amp;`.

/**
 * What replaces a backtick in an untrusted value: U+02CB MODIFIER LETTER GRAVE ACCENT (ˋ). It looks
 * like a backtick but Slack does not treat it as one, so a value shown inside `code` or ```a block```
 * cannot end it. Replaced rather than stripped, so a log line still reads as it was written.
 */
export const BACKTICK_LOOKALIKE = '\u02cb';

/**
 * What replaces `@` in `@channel`, `@here`, `@everyone`: U+FF20 FULLWIDTH COMMERCIAL AT (＠).
 * Slack pings for these bare words only with link_names, but the bot never relies on that flag.
 */
export const AT_LOOKALIKE = '\uff20';

// `&` that does not already start one of the three entities Slack knows (keeps escaping idempotent;
// an untrusted "&lt;" then shows as "<", which is harmless: entities are never parsed into markup).
const AMP = /&(?!(?:amp|lt|gt);)/g;
const BROADCAST_WORD = /@(channel|here|everyone)\b/gi;
// `scheme://`: Slack turns it into a link (and an unfurl candidate). A word joiner (U+2060) between
// the slashes keeps it readable and stops the link; messages are also sent with unfurling off.
const SCHEME = /\b([a-z][a-z0-9+.-]*):\/\//gi;

function escapeEntities(text: string): string {
  return text.replace(AMP, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function neutralisePingsAndLinks(text: string): string {
  return text.replace(BROADCAST_WORD, `${AT_LOOKALIKE}$1`).replace(SCHEME, '$1:/\u2060/');
}

/**
 * One untrusted value, made inert for mrkdwn: `&`, `<`, `>` as entities (so no `<!channel>`,
 * `<@U…>`, `<#C…>` or `<url|label>` survives), backticks as {@link BACKTICK_LOOKALIKE}, broadcast
 * words and `scheme://` broken. Bold/italic markers are left alone: they cannot ping or link.
 */
export function escapeMrkdwn(value: string): string {
  return neutralisePingsAndLinks(escapeEntities(value)).replace(/`/g, BACKTICK_LOOKALIKE);
}

/**
 * Text the bot composed (its own `*bold*` and `code`) around values that may be untrusted, when the
 * values can no longer be told apart (an error message). Everything live is made inert as in
 * {@link escapeMrkdwn}, but backticks stay, so the bot's formatting survives. `keep` lists the exact
 * mentions the bot writes itself and may keep live (e.g. `<@U0APPROVER>`, `<!subteam^S0ONCALL>`, from
 * the catalog); every other mention, `<!channel>`, `<!here>`, `<!everyone>` and every link is escaped.
 * Prefer escaping each value with {@link escapeMrkdwn} where it is embedded: only that keeps a value
 * from ending the bot's code span.
 */
const BROADCAST = /^<!(channel|here|everyone)\b/i;

export function defuseMrkdwn(text: string, keep: ReadonlySet<string> = new Set()): string {
  return text
    .split(/(<[^<>]*>)/)
    .map((part, i) =>
      i % 2 === 1 && keep.has(part) && !BROADCAST.test(part)
        ? part
        : neutralisePingsAndLinks(escapeEntities(part)),
    )
    .join('');
}
