// What a Web API method handler gets and gives back. Shared by web-api.ts and files.ts so neither
// imports the other.

import type { KeyedBuckets, TokenBucket } from './rate-limit.js';
import type { JsonObject } from './types.js';
import type { Workspace } from './workspace.js';

export interface ApiContext {
  ws: Workspace;
  /** Base URL of the emulator, e.g. http://127.0.0.1:PORT (no trailing slash). */
  baseUrl: string;
  postLimiter: KeyedBuckets;
  updateLimiter: TokenBucket;
  /** views.open, views.push, views.update, views.publish: Tier 4, one bucket per method. */
  viewsLimiter: KeyedBuckets;
  /** Present when Socket Mode is enabled: hands out a WebSocket URL. */
  openSocketUrl?: () => string;
}

/** A handler's answer. `ok:false` bodies become rejections; status 429 counts as rate limited. */
export interface ApiAnswer {
  status: number;
  body: JsonObject;
  headers?: Record<string, string>;
}

export const ok = (body: JsonObject = {}): ApiAnswer => ({ status: 200, body: { ok: true, ...body } });

export const fail = (error: string, messages?: string[]): ApiAnswer => {
  const body: JsonObject = { ok: false, error };
  if (messages && messages.length > 0) {
    body.errors = messages.map((m) => m.replace(/^\[ERROR\] /, ''));
    body.response_metadata = { messages };
  }
  return { status: 200, body };
};

export const rateLimited = (retryAfterSeconds: number): ApiAnswer => ({
  status: 429,
  body: { ok: false, error: 'ratelimited' },
  headers: { 'retry-after': String(retryAfterSeconds) },
});

/** Typed access to decoded arguments (form values are strings; JSON values are typed). */
export class Args {
  constructor(readonly raw: Record<string, unknown>) {}

  has(key: string): boolean {
    const v = this.raw[key];
    return v !== undefined && v !== null && v !== '';
  }

  str(key: string): string | undefined {
    const v = this.raw[key];
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return undefined;
  }

  bool(key: string): boolean {
    const v = this.raw[key];
    return v === true || v === 'true' || v === '1' || v === 1;
  }

  /** A JSON-valued argument: a JSON string (form) or a value (JSON body). */
  json(key: string): { value: unknown } | { error: true } | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') return { value: v };
    try {
      return { value: JSON.parse(v) };
    } catch {
      return { error: true };
    }
  }

  /** A list argument: "a,b" (form) or ["a","b"] (JSON). */
  list(key: string): string[] | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (Array.isArray(v)) return v.map(String);
    return String(v)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
}
