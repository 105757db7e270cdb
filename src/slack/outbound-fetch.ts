// Every request the Slack SDK makes goes through this fetch: Web API calls from app.client and from
// the per-team clients Bolt creates for listeners (both copy clientOptions), and respond() posts to
// response_url. It is the one place where the redactor sees all Slack-bound text, whoever wrote the
// call, and where link unfurling is turned off for every chat.postMessage: untrusted text may hold URLs.
//
// Headers (the bot token) are never touched. Multipart bodies (file bytes sent to an upload_url) pass
// unchanged: the only file the bot uploads is the incident report, redacted when it is rendered.
import type { Redactor } from '../redact.js';

const UNFURL_OFF = ['chat.postMessage', 'chat.scheduleMessage'];

function header(headers: RequestInit['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  const h = new Headers(headers as ConstructorParameters<typeof Headers>[0]);
  return h.get(name) ?? undefined;
}

function redactJsonOrText(r: Redactor, value: string): string {
  const trimmed = value.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.stringify(r.redactValue(JSON.parse(value) as unknown));
    } catch {
      // Not JSON after all: redacted as text below, which is just as safe.
    }
  }
  return r.redact(value);
}

/** The form body with every value redacted (JSON-encoded values such as blocks, deeply). */
export function redactFormBody(r: Redactor, body: string, method?: string): string {
  const form = new URLSearchParams(body);
  const out = new URLSearchParams();
  for (const [k, v] of form) out.append(k, redactJsonOrText(r, v));
  if (method && UNFURL_OFF.includes(method)) {
    if (!out.has('unfurl_links')) out.set('unfurl_links', 'false');
    if (!out.has('unfurl_media')) out.set('unfurl_media', 'false');
  }
  return out.toString();
}

export function createOutboundFetch(r: Redactor, base: typeof fetch = globalThis.fetch): typeof fetch {
  return (input, init) => {
    if (!init || typeof init.body !== 'string') return base(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = url.slice(url.lastIndexOf('/') + 1).split('?')[0];
    const type = (header(init.headers, 'content-type') ?? '').toLowerCase();
    const body = type.startsWith('application/x-www-form-urlencoded')
      ? redactFormBody(r, init.body, method)
      : type.startsWith('application/json')
        ? redactJsonOrText(r, init.body)
        : r.redact(init.body);
    return base(input, { ...init, body });
  };
}
