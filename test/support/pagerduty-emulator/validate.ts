// PagerDuty's Events API v2 validation rules, as pure functions returning the `errors` strings of a
// 400 answer (empty: valid). Sources: PagerDuty developer-docs events-API-v2/02-Trigger-Events.md
// and 03-Change-Events.md, the events-v2 OpenAPI spec, and error strings PagerDuty is seen to return
// ("Length of 'routing_key' is incorrect (should be 32 characters)", "'routing_key' cannot contain
// non-alphanumeric characters.", "'payload.source' is missing or blank"). Strings PagerDuty was not
// seen to return follow the same style; clients should branch on the HTTP status, not on them.

export const ROUTING_KEY_LENGTH = 32;
export const MAX_SUMMARY_LENGTH = 1024;
export const MAX_DEDUP_KEY_LENGTH = 255;
export const EVENT_ACTIONS = ['trigger', 'acknowledge', 'resolve'] as const;
export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isBlank = (v: unknown): boolean => typeof v !== 'string' || v.trim() === '';
/** Length in characters (code points), not UTF-16 units. */
const length = (s: string): number => [...s].length;
const oneOf = <T extends string>(list: readonly T[], v: unknown): v is T =>
  typeof v === 'string' && (list as readonly string[]).includes(v);

export function routingKeyErrors(key: unknown): string[] {
  if (isBlank(key)) return ["'routing_key' is missing or blank"];
  const k = key as string;
  const errors: string[] = [];
  if (length(k) !== ROUTING_KEY_LENGTH)
    errors.push(`Length of 'routing_key' is incorrect (should be ${ROUTING_KEY_LENGTH} characters)`);
  if (!/^[A-Za-z0-9]+$/.test(k)) errors.push("'routing_key' cannot contain non-alphanumeric characters.");
  return errors;
}

/**
 * ISO 8601 date-time as PagerDuty documents it (`2015-07-17T08:42:58.315+0000`): date, `T`, time
 * with optional seconds and fraction, optional zone (`Z`, `+hh:mm` or `+hhmm`); fields in range.
 */
export function isIsoTimestamp(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const m =
    /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))?$/.exec(v);
  if (!m) return false;
  const [year, month, day, hour, minute, second = 0, zh = 0, zm = 0] = m
    .slice(1)
    .map((s) => (s === undefined ? undefined : Number(s)));
  if (year === undefined || month === undefined || day === undefined) return false;
  if (hour === undefined || minute === undefined) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 60 &&
    zh <= 23 &&
    zm <= 59
  );
}

function timestampErrors(payload: Record<string, unknown>): string[] {
  if (payload.timestamp === undefined || payload.timestamp === null) return [];
  return isIsoTimestamp(payload.timestamp)
    ? []
    : ["'payload.timestamp' is invalid (should be an ISO 8601 date-time, e.g. 2015-07-17T08:42:58.315+0000)"];
}

function summaryErrors(payload: Record<string, unknown>): string[] {
  if (isBlank(payload.summary)) return ["'payload.summary' is missing or blank"];
  return length(payload.summary as string) > MAX_SUMMARY_LENGTH
    ? [`'payload.summary' is too long (maximum is ${MAX_SUMMARY_LENGTH} characters)`]
    : [];
}

/** POST /v2/enqueue. `payload` and the trigger-only fields are ignored for acknowledge/resolve. */
export function alertEventErrors(body: Record<string, unknown>): string[] {
  const errors = routingKeyErrors(body.routing_key);
  const action = body.event_action;
  if (isBlank(action)) errors.push("'event_action' is missing or blank");
  else if (!oneOf(EVENT_ACTIONS, action))
    errors.push(`'event_action' is invalid (should be one of ${EVENT_ACTIONS.join(', ')})`);

  const dedup = body.dedup_key;
  if (dedup !== undefined && dedup !== null) {
    if (typeof dedup !== 'string') errors.push("'dedup_key' must be a string");
    else if (length(dedup) > MAX_DEDUP_KEY_LENGTH)
      errors.push(`'dedup_key' is too long (maximum is ${MAX_DEDUP_KEY_LENGTH} characters)`);
  }
  if ((action === 'acknowledge' || action === 'resolve') && isBlank(dedup))
    errors.push(`'dedup_key' is missing or blank (required for ${action} events)`);

  if (action === 'trigger') {
    const payload = isObject(body.payload) ? body.payload : {};
    errors.push(...summaryErrors(payload));
    if (isBlank(payload.source)) errors.push("'payload.source' is missing or blank");
    if (isBlank(payload.severity)) errors.push("'payload.severity' is missing or blank");
    else if (!oneOf(SEVERITIES, payload.severity))
      errors.push(`'payload.severity' is invalid (should be one of ${SEVERITIES.join(', ')})`);
    errors.push(...timestampErrors(payload));
  }
  return errors;
}

/** POST /v2/change/enqueue. */
export function changeEventErrors(body: Record<string, unknown>): string[] {
  const errors = routingKeyErrors(body.routing_key);
  // Ruleset keys start with R; PagerDuty does not take change events on them (Events API v2 overview).
  if (errors.length === 0 && String(body.routing_key).startsWith('R'))
    errors.push("'routing_key' is a ruleset key; change events need a service integration key");
  const payload = isObject(body.payload) ? body.payload : {};
  errors.push(...summaryErrors(payload));
  if (payload.source !== undefined && payload.source !== null && typeof payload.source !== 'string')
    errors.push("'payload.source' must be a string");
  errors.push(...timestampErrors(payload));
  return errors;
}
