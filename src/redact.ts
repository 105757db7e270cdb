// One redactor for every outbound path: Slack (every Web API call and response_url post), PagerDuty,
// the records kept in Redis, the incident report, and the logs (Bolt's included). Text leaves the
// cluster on all of them, and a secret printed once by a pod, an alert or an error is out for good.
// Pure and SDK-free, so the domain and the store may call it too. Built once in main.ts with the
// configured secrets; patterns cover what no configuration lists (tokens a pod logs, a URL's password).
//
// Over-redacting prose ("the bearer of bad news") is accepted: a lost word costs less than a leak.

/** The mark left where a secret was. */
export const REDACTED = '[redacted]';

/** Literal secrets shorter than this are not matched: they would redact ordinary words. */
const MIN_SECRET_LENGTH = 8;

// Names whose value is a secret, in `name=value`, `name: value`, `"name": "value"` and query strings.
const SECRET_NAME =
  '[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|apikey|api_key|api-key|routing_key|integration_key|access_key|private_key)';

const PATTERNS: [RegExp, string | ((...m: string[]) => string)][] = [
  // PEM private keys, whole.
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, REDACTED],
  // Credentials in URLs: scheme://user:pass@host → scheme://user:***@host (also redis://:pass@host).
  [/\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#]*):([^\s@/?#]+)@/gi, '$1$2:***@'],
  // Authorization headers: any scheme, any case; and a bare `Bearer <token>` anywhere.
  [
    /\b(authorization["']?\s*[:=]\s*["']?)(?:(basic|bearer|token)\s+)?[^\s"',;]+/gi,
    (_m, p, s) => `${p}${s ? `${s} ` : ''}${REDACTED}`,
  ],
  [/\b(bearer)\s+[A-Za-z0-9._~+/-]{6,}=*/gi, `$1 ${REDACTED}`],
  // JSON Web Tokens: three base64url segments, the first a JSON header (`{"` is `eyJ`).
  [/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  // Slack tokens: bot/user/app/config/refresh (xox?-), app-level (xapp-); the prefix says which leaked.
  [/\b(xox[abposre])-[A-Za-z0-9-]+/g, `$1-${REDACTED}`],
  [/\bxapp-[A-Za-z0-9-]+/g, `xapp-${REDACTED}`],
  // PagerDuty routing/integration keys (32 characters) after the words that introduce them.
  [
    /\b((?:routing|integration|service)[ _-]?key|token)(\s*(?:is|=|:)?\s*["']?)([A-Za-z0-9]{32})\b/gi,
    `$1$2${REDACTED}`,
  ],
  // name=value, name: value, "name": "value", ?name=value (password=, PGPASSWORD=, apikey=, token=, …).
  [
    new RegExp(`(\\b${SECRET_NAME}["']?\\s*[:=]\\s*["']?)(?!\\[redacted\\])[^\\s"'&,;}<>]+`, 'gi'),
    `$1${REDACTED}`,
  ],
];

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Masks secrets in text and in JSON-like values. Both functions are pure closures (safe to pass around). */
export interface Redactor {
  /** The text with every known secret and every secret-looking value replaced. */
  redact(text: string): string;
  /**
   * A deep copy of a JSON-like value with every string redacted, and string values under secret-named
   * keys (password, token, routing_key, …) replaced whole. Numbers, booleans and non-plain objects are kept.
   */
  redactValue<T>(value: T): T;
}

/**
 * Builds the redactor. `secrets` are the configured secret values (signing secret, bot and app tokens,
 * webhook token, PagerDuty routing key, Redis password); empty, undefined and short values are ignored.
 */
export function createRedactor(secrets: readonly (string | undefined)[] = []): Redactor {
  const literals = [
    ...new Set(
      secrets
        .filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH)
        .flatMap((s) => [s, encodeURIComponent(s)]),
    ),
  ].sort((a, b) => b.length - a.length);
  const literal = literals.length ? new RegExp(literals.map(escapeRegExp).join('|'), 'g') : undefined;
  const secretKey = new RegExp(`^${SECRET_NAME}$`, 'i');

  function redact(text: string): string {
    let out = literal ? text.replace(literal, REDACTED) : text;
    for (const [re, to] of PATTERNS) out = out.replace(re, to as string);
    return out;
  }

  function redactValue<T>(value: T): T {
    return walk(value) as T;
  }

  function walk(v: unknown, key?: string): unknown {
    if (typeof v === 'string') return key !== undefined && secretKey.test(key) && v ? REDACTED : redact(v);
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v !== null && typeof v === 'object') {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return v;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    }
    return v;
  }

  return { redact, redactValue };
}
