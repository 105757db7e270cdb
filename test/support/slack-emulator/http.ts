// HTTP plumbing shared by the emulator's endpoints: read the raw body, decode Web API arguments the
// three ways Slack accepts them, and write answers. Kept apart so web-api.ts reads as Slack's rules.
//
// How arguments arrive (checked against @slack/web-api 8.2.0 WebClient.serializeBody):
// - application/x-www-form-urlencoded (what the SDK sends): every value a string; nested values
//   such as `blocks` or `files` are JSON strings. Token in `Authorization: Bearer`, or a `token` field.
// - application/json: typed values; Slack only reads the token from the Authorization header here.
// - multipart/form-data: what the SDK sends when an argument is a Buffer.

import type { IncomingMessage, ServerResponse } from 'node:http';

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface DecodedArgs {
  args: Record<string, unknown>;
  /** Token from the body (form fields only). */
  bodyToken?: string;
  /** Set when the body could not be decoded: Slack's error code for that. */
  error?: 'invalid_json' | 'json_not_object' | 'invalid_form_data';
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export async function decodeArgs(req: IncomingMessage, body: Buffer): Promise<DecodedArgs> {
  const url = new URL(req.url ?? '/', 'http://emulator');
  const args: Record<string, unknown> = Object.fromEntries(url.searchParams);
  const type = mediaType(req.headers['content-type']);
  if (body.length === 0) return withToken(args);
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return { args, error: 'invalid_json' };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { args, error: 'json_not_object' };
    // A token inside a JSON body is not an accepted credential: only the Authorization header counts.
    const { token: _ignored, ...rest } = { ...args, ...(parsed as Record<string, unknown>) };
    return { args: rest };
  }
  if (type === 'multipart/form-data') {
    try {
      const form = await new Response(new Uint8Array(body), {
        headers: { 'content-type': String(req.headers['content-type']) },
      }).formData();
      for (const [k, v] of form.entries()) {
        args[k] = typeof v === 'string' ? v : Buffer.from(await v.arrayBuffer());
      }
    } catch {
      return { args, error: 'invalid_form_data' };
    }
    return withToken(args);
  }
  // Slack treats anything else as form data (that is also what a bare POST body is).
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) args[k] = v;
  return withToken(args);
}

function withToken(args: Record<string, unknown>): DecodedArgs {
  const { token, ...rest } = args;
  if (typeof token === 'string' && token !== '') return { args: rest, bodyToken: token };
  return { args: rest };
}

export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(h.trim());
  return m?.[1];
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}
