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

/** One Web API call's outcome, for the bot's metrics: ok, rate_limited, Slack's error code, or network. */
export type CallCounter = (method: string, outcome: string) => void;

const urlOf = (input: Parameters<typeof fetch>[0]) =>
  typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;

/**
 * The method label: a Web API method (`/api/chat.postMessage`); else a JSON post is respond()'s
 * `response_url` and anything else (a file's bytes to its upload URL) `other`. Bounded: the path is
 * the bot's own call, and anything unlike a method name is not a label.
 */
export function methodLabel(url: string, init?: RequestInit): string {
  const m = /\/api\/([a-z]+(?:\.[a-zA-Z]+)+)$/.exec(url.split('?')[0] ?? '');
  if (m?.[1]) return m[1];
  const type = (header(init?.headers, 'content-type') ?? '').toLowerCase();
  return type.startsWith('application/json') ? 'response_url' : 'other';
}

/** Counts each call once its answer is known; reading the answer never delays or changes it. */
function counted(call: Promise<Response>, method: string, count: CallCounter): Promise<Response> {
  return call.then(
    (res) => {
      if (res.status === 429) count(method, 'rate_limited');
      else if (!res.ok) count(method, `http_${res.status}`);
      else if (method === 'response_url' || method === 'other') count(method, 'ok');
      else
        void res
          .clone()
          .json()
          .then(
            (b: unknown) => {
              const { ok, error } = (b ?? {}) as { ok?: boolean; error?: unknown };
              count(
                method,
                ok
                  ? 'ok'
                  : String(error ?? 'error')
                      .replace(/[^a-z_]/g, '')
                      .slice(0, 40) || 'error',
              );
            },
            () => count(method, 'unreadable'),
          );
      return res;
    },
    (err: unknown) => {
      count(method, 'network');
      throw err;
    },
  );
}

export function createOutboundFetch(
  r: Redactor,
  base: typeof fetch = globalThis.fetch,
  count?: CallCounter,
): typeof fetch {
  const send: typeof fetch = count
    ? (input, init) => counted(base(input, init), methodLabel(urlOf(input), init), count)
    : base;
  return (input, init) => {
    if (!init || typeof init.body !== 'string') return send(input, init);
    const url = urlOf(input);
    const method = url.slice(url.lastIndexOf('/') + 1).split('?')[0];
    const type = (header(init.headers, 'content-type') ?? '').toLowerCase();
    const body = type.startsWith('application/x-www-form-urlencoded')
      ? redactFormBody(r, init.body, method)
      : type.startsWith('application/json')
        ? redactJsonOrText(r, init.body)
        : r.redact(init.body);
    return send(input, { ...init, body });
  };
}
