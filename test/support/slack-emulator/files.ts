// File upload v2, the only upload path left (files.upload was sunset on 2025-11-12):
//   1. files.getUploadURLExternal(filename, length) → { upload_url, file_id }
//   2. POST the bytes to upload_url (@slack/web-api 8 sends multipart/form-data with one part
//      named "body"; raw bytes are accepted too)
//   3. files.completeUploadExternal(files=[{id,title}], channel_id, thread_ts, initial_comment)
// The emulator's upload_url points back at itself. It refuses what would break in Slack: an upload
// whose size differs from the announced `length`, completing a file whose bytes never arrived
// (file_not_found), and sharing into a channel the bot is not in (not_in_channel).
//
// Decisions: a second POST to the same upload_url is refused (HTTP 400 "already_uploaded"); a size
// mismatch is HTTP 400 "length_mismatch"; the upload answers "OK - <bytes>" as Slack's does; a file
// that was completed once cannot be completed again (file_not_found); the share shows up as a bot
// message carrying `files` (text = initial_comment) in the channel or thread.

import { randomBytes } from 'node:crypto';
import { type ApiAnswer, type ApiContext, type Args, fail, ok } from './context.js';
import { readContent } from './message-content.js';
import type { JsonObject, StoredFile } from './types.js';
import type { PendingUpload } from './workspace.js';

export function getUploadURLExternal(ctx: ApiContext, a: Args): ApiAnswer {
  const missing = ['filename', 'length'].filter((k) => !a.has(k));
  if (missing.length > 0) {
    return fail(
      'invalid_arguments',
      missing.map((k) => `[ERROR] missing required field: ${k}`),
    );
  }
  const lengthArg = a.str('length') ?? '';
  if (!/^\d+$/.test(lengthArg)) {
    return fail('invalid_arguments', ['[ERROR] must be an integer [json-pointer:/length]']);
  }
  const length = Number(lengthArg);
  if (length === 0) return fail('missing_argument');
  const file: PendingUpload = {
    id: `F0EMU${String(ctx.ws.pendingUploads.size + 1).padStart(6, '0')}`,
    filename: a.str('filename') ?? '',
    length,
    ticket: randomBytes(12).toString('hex'),
    completed: false,
  };
  ctx.ws.pendingUploads.set(file.id, file);
  return ok({ upload_url: `${ctx.baseUrl}/upload/v1/${file.ticket}`, file_id: file.id });
}

/** The POST to an upload_url. Returns the HTTP status and text body to answer with. */
export async function receiveUpload(
  ctx: ApiContext,
  ticket: string,
  contentType: string | undefined,
  body: Buffer,
): Promise<{ status: number; text: string; fileId?: string; error?: string }> {
  const file = [...ctx.ws.pendingUploads.values()].find((f) => f.ticket === ticket);
  if (!file) return { status: 404, text: 'not_found', error: 'not_found' };
  if (file.data !== undefined)
    return { status: 400, text: 'already_uploaded', fileId: file.id, error: 'already_uploaded' };
  let data = body;
  if ((contentType ?? '').toLowerCase().startsWith('multipart/form-data')) {
    const form = await new Response(new Uint8Array(body), {
      headers: { 'content-type': contentType ?? '' },
    }).formData();
    const part = form.get('body') ?? form.get('file') ?? [...form.values()][0];
    if (part === undefined || part === null)
      return { status: 400, text: 'no_file_data', fileId: file.id, error: 'no_file_data' };
    data = typeof part === 'string' ? Buffer.from(part) : Buffer.from(await part.arrayBuffer());
  }
  if (data.length !== file.length) {
    return {
      status: 400,
      text: `length_mismatch: announced ${file.length} bytes, received ${data.length}`,
      fileId: file.id,
      error: 'length_mismatch',
    };
  }
  file.data = data;
  return { status: 200, text: `OK - ${data.length}`, fileId: file.id };
}

export function completeUploadExternal(ctx: ApiContext, a: Args): ApiAnswer {
  const { ws } = ctx;
  const filesArg = a.json('files');
  if (filesArg === undefined) return fail('invalid_arguments', ['[ERROR] missing required field: files']);
  if ('error' in filesArg || !Array.isArray(filesArg.value) || filesArg.value.length === 0) {
    return fail('invalid_arguments', ['[ERROR] must provide a non-empty array [json-pointer:/files]']);
  }
  const requested: { id: string; title?: string }[] = [];
  for (const f of filesArg.value as unknown[]) {
    if (typeof f !== 'object' || f === null || typeof (f as { id?: unknown }).id !== 'string') {
      return fail('invalid_arguments', ['[ERROR] missing required field: id [json-pointer:/files]']);
    }
    const { id, title } = f as { id: string; title?: unknown };
    requested.push({ id, ...(typeof title === 'string' ? { title } : {}) });
  }
  const files: PendingUpload[] = [];
  for (const r of requested) {
    const p = ws.pendingUploads.get(r.id);
    if (!p || p.data === undefined || p.completed) return fail('file_not_found');
    files.push(p);
  }

  const channelIds = a.list('channel_id') ?? a.list('channels') ?? [];
  if (channelIds.length > 1 && a.has('thread_ts')) return fail('invalid_arguments');
  const convs = [];
  for (const id of channelIds) {
    const conv = ws.conversation(id);
    if (!conv) return fail('channel_not_found');
    if (!conv.botIsMember) return fail('not_in_channel');
    convs.push(conv);
  }

  const initialComment = a.str('initial_comment');
  let blocks: JsonObject[] = [];
  if (!initialComment && a.has('blocks')) {
    const read = readContent({ blocks: a.raw.blocks });
    if (!read.ok) return fail(read.error, read.messages);
    blocks = read.content.blocks ?? [];
  }

  const titles = new Map(requested.map((r) => [r.id, r.title ?? '']));
  const shared = files.map((f) => ({ id: f.id, name: f.filename, title: titles.get(f.id) || f.filename }));
  for (const f of files) f.completed = true;
  const store = (
    channel: string | undefined,
    threadTs: string | undefined,
    messageTs: string | undefined,
  ) => {
    for (const f of files) {
      const data = f.data ?? Buffer.alloc(0);
      const record: StoredFile = {
        id: f.id,
        filename: f.filename,
        title: titles.get(f.id) || f.filename,
        length: f.length,
        content: data,
        text: data.toString('utf8'),
        user: ws.botUserId,
        ...(channel !== undefined ? { channel } : {}),
        ...(threadTs !== undefined ? { thread_ts: threadTs } : {}),
        ...(initialComment ? { initial_comment: initialComment } : {}),
        ...(messageTs !== undefined ? { message_ts: messageTs } : {}),
      };
      ws.fileStore.push(record);
    }
  };
  if (convs.length === 0) store(undefined, undefined, undefined);
  for (const conv of convs) {
    const threadTs = ws.resolveThread('files.completeUploadExternal', conv.id, a.str('thread_ts'));
    const m = ws.botMessage(conv.id, initialComment ?? '', blocks, 'files.completeUploadExternal');
    m.files = shared;
    if (threadTs !== undefined) m.thread_ts = threadTs;
    ws.addMessage(m);
    store(conv.id, threadTs, m.ts);
  }
  const created = Math.floor(Date.now() / 1000);
  return ok({
    files: shared.map((s, i) => ({
      id: s.id,
      name: s.name,
      title: s.title,
      size: files[i]?.length ?? 0,
      user: ws.botUserId,
      created,
    })),
  });
}
