// Public types of the PagerDuty Events API v2 emulator. See index.ts for what the emulator is for.

export type EventAction = 'trigger' | 'acknowledge' | 'resolve';
export type IncidentStatus = 'triggered' | 'acknowledged' | 'resolved';

/**
 * What an accepted alert event did:
 * - `created`: a trigger that opened a new incident;
 * - `deduplicated`: a trigger that hit an open incident with the same routing key and dedup_key;
 * - `acknowledged` / `resolved`: applied to the open incident;
 * - `dropped`: an acknowledge or resolve with no open incident for that routing key and dedup_key
 *   (PagerDuty still answers 202, then drops it);
 * - `unrouted`: a well-formed routing key the emulator was not told about, accepted with 202 as
 *   PagerDuty does, and routed to no service (no incident, nobody paged).
 */
export type EventOutcome = 'created' | 'deduplicated' | 'acknowledged' | 'resolved' | 'dropped' | 'unrouted';

/** Answer the next `count` requests (any path) with `status` instead of processing them. */
export interface FailNext {
  status: number;
  count: number;
  /** Raw response body. Default: a JSON error object (the rate-limit body for 429). */
  body?: string;
}

export interface PagerDutyEmulatorOptions {
  /**
   * The integration keys of the emulated services. Unset: every well-formed key is a service.
   * Set: other well-formed keys are handled as `unknownRoutingKeys` says.
   */
  routingKeys?: string[];
  /**
   * Default `'accept'`: what PagerDuty does. The Events API is asynchronous; a 32-character
   * alphanumeric key that belongs to no integration is answered 202 and the event goes nowhere.
   * `'reject'` answers 400 "Invalid routing key" instead, for tests that want a loud failure.
   */
  unknownRoutingKeys?: 'accept' | 'reject';
  /** Requests allowed per routing key in a sliding window. Default 120 (PagerDuty's documented figure). */
  ratePerMinute?: number;
  /** Length of the sliding window in ms. Default 60 000; shorten it in tests that wait for the limit to lift. */
  rateWindowMs?: number;
  failNext?: FailNext;
}

export interface AcceptedEvent {
  /** Order of arrival among all requests (shared with `requests()`). */
  seq: number;
  receivedAt: Date;
  routingKey: string;
  action: EventAction;
  /** The dedup_key sent, or the one the emulator generated for a trigger without one. */
  dedupKey: string;
  /** The parsed JSON body exactly as sent. */
  body: Record<string, unknown>;
  outcome: EventOutcome;
  incidentId?: string;
}

export interface ChangeEvent {
  seq: number;
  receivedAt: Date;
  routingKey: string;
  body: Record<string, unknown>;
  /** True when the routing key is unknown and was accepted anyway (see `unknownRoutingKeys`). */
  unrouted: boolean;
}

export type RejectionReason =
  | 'invalid' // 400 "invalid event": the event broke a validation rule
  | 'unrecognized' // 400 "Unrecognized object": not JSON, or JSON that is not an object
  | 'rate-limited' // 429
  | 'injected' // failNext
  | 'not-found' // 404: not an Events API path
  | 'method-not-allowed'; // 405: not a POST

export interface RejectedRequest {
  seq: number;
  receivedAt: Date;
  method: string;
  path: string;
  status: number;
  reason: RejectionReason;
  /** The `errors` array of the answer (empty when the answer has none). */
  errors: string[];
  /** The answer body: parsed JSON, or the raw string when it is not JSON. */
  response: unknown;
  rawBody: string;
}

export interface Incident {
  /** Emulator-made id in PagerDuty's style, e.g. `PEMU0001`. */
  id: string;
  routingKey: string;
  dedupKey: string;
  status: IncidentStatus;
  /** Trigger events applied: 1 for the trigger that opened it, +1 per de-duplicated trigger. */
  triggerCount: number;
  /** From the opening trigger. */
  summary: string;
  severity: string;
  source: string;
  createdAt: Date;
  acknowledgedAt?: Date;
  resolvedAt?: Date;
}

export interface ReceivedRequest {
  seq: number;
  receivedAt: Date;
  method: string;
  /** Path with the query string. */
  path: string;
  /** Node's lower-cased header object. */
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  /** The status answered; undefined while the request hangs (see `hang`). */
  status?: number;
}

export interface PagerDutyEmulator {
  /** Base URL, e.g. `https://127.0.0.1:43121`. The Events API lives at `${url}/v2/enqueue`. */
  readonly url: string;
  /** `127.0.0.1:PORT`: what @pagerduty/pdjs takes as its `server` option (it adds `https://` itself). */
  readonly host: string;
  readonly port: number;
  /** PEM of the CA that signed the server certificate. Give it to an https.Agent (`ca`) to trust the emulator. */
  readonly caPem: string;
  /** A file holding `caPem`, for `NODE_EXTRA_CA_CERTS` of a child process. Removed by `close()`. */
  readonly caFile: string;
  /** Every accepted alert event (POST /v2/enqueue answered 202), in order. */
  events(): AcceptedEvent[];
  /** Every accepted change event (POST /v2/change/enqueue answered 202), in order. */
  changeEvents(): ChangeEvent[];
  /** Every request not answered 202, in order. */
  rejected(): RejectedRequest[];
  /** Every incident ever opened, oldest first; a dedup_key re-triggered after a resolve appears twice. */
  incidents(): Incident[];
  /** The latest incident with this dedup_key (and routing key, when given). */
  incident(dedupKey: string, routingKey?: string): Incident | undefined;
  /** Every request received, answered or hanging, in order. */
  requests(): ReceivedRequest[];
  /** Answer the next `count` requests with `status` (see FailNext). Replaces a pending failNext. */
  failNext(status: number, count: number, body?: string): void;
  /** Read the next `count` requests and never answer them (until `close()` destroys their sockets). */
  hang(count: number): void;
  /** Forget all recorded traffic, incidents, rate-limit windows, pending failNext and hang. */
  reset(): void;
  /** Stop listening, destroy every connection (hanging ones too), delete the certificate files. */
  close(): Promise<void>;
}
