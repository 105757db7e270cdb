// Socket Mode without extra dependencies: apps.connections.open (app-level token) hands out a
// ws:// URL on the emulator; this file is the WebSocket server behind it (RFC 6455: handshake, text
// frames, ping/pong, close; no extensions). Like Slack it greets with {type:"hello"}, sends
// envelopes {envelope_id, type, payload, accepts_response_payload} and waits for the client's
// ack {envelope_id, payload}. The 3-second ack deadline applies here too.
//
// Each URL is single use (Slack's tickets are). Envelopes go to the newest open connection.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

class Connection {
  private buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private closed = false;

  constructor(
    private readonly socket: Duplex,
    private readonly onText: (text: string) => void,
    private readonly onClose: () => void,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.drain();
    });
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
  }

  get open(): boolean {
    return !this.closed;
  }

  sendText(text: string): void {
    this.write(OP_TEXT, Buffer.from(text, 'utf8'));
  }

  close(code = 1000): void {
    if (this.closed) return;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.write(OP_CLOSE, payload);
    this.socket.end();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private write(opcode: number, payload: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    let header: Buffer;
    if (payload.length < 126) {
      header = Buffer.from([0x80 | opcode, payload.length]);
    } else if (payload.length < 65536) {
      header = Buffer.alloc(4);
      header[0] = 0x80 | opcode;
      header[1] = 126;
      header.writeUInt16BE(payload.length, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x80 | opcode;
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    this.socket.write(Buffer.concat([header, payload]));
  }

  /** Parses as many complete frames as the buffer holds. Client frames are always masked. */
  private drain(): void {
    for (;;) {
      if (this.buffer.length < 2) return;
      const b0 = this.buffer[0]!;
      const b1 = this.buffer[1]!;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const maskOffset = offset;
      if (masked) offset += 4;
      if (this.buffer.length < offset + length) return;
      const payload = Buffer.from(this.buffer.subarray(offset, offset + length));
      if (masked) {
        for (let i = 0; i < payload.length; i++)
          payload[i] = payload[i]! ^ this.buffer[maskOffset + (i % 4)]!;
      }
      this.buffer = this.buffer.subarray(offset + length);
      this.frame(fin, opcode, payload);
    }
  }

  private frame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case OP_PING:
        this.write(OP_PONG, payload);
        return;
      case OP_PONG:
        return;
      case OP_CLOSE:
        this.close(payload.length >= 2 ? payload.readUInt16BE(0) : 1000);
        return;
      case OP_TEXT:
      case OP_BINARY:
      case OP_CONTINUATION:
        this.fragments.push(payload);
        if (fin) {
          const text = Buffer.concat(this.fragments).toString('utf8');
          this.fragments = [];
          this.onText(text);
        }
        return;
    }
  }
}

export interface SocketAck {
  envelope_id: string;
  payload?: unknown;
}

export class SocketHub {
  private readonly tickets = new Set<string>();
  private readonly connections: Connection[] = [];
  private readonly waiting = new Map<string, (ack: SocketAck) => void>();

  constructor(
    private readonly wsBaseUrl: string,
    private readonly appId: string,
  ) {}

  /** A fresh single-use URL, as apps.connections.open returns. */
  openUrl(): string {
    const ticket = randomBytes(16).toString('hex');
    this.tickets.add(ticket);
    return `${this.wsBaseUrl}/socket/link/?ticket=${ticket}&app_id=${this.appId}`;
  }

  get connected(): boolean {
    return this.connections.some((c) => c.open);
  }

  /** Handles an HTTP upgrade; returns false when the request is not ours. */
  upgrade(req: IncomingMessage, socket: Duplex): boolean {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (!url.pathname.startsWith('/socket/')) return false;
    const ticket = url.searchParams.get('ticket') ?? '';
    const key = req.headers['sec-websocket-key'];
    if (!this.tickets.delete(ticket) || typeof key !== 'string') {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return true;
    }
    const accept = createHash('sha1')
      .update(key + WS_GUID)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const conn: Connection = new Connection(
      socket,
      (text) => this.received(text),
      () => {
        const i = this.connections.indexOf(conn);
        if (i >= 0) this.connections.splice(i, 1);
      },
    );
    this.connections.push(conn);
    conn.sendText(
      JSON.stringify({
        type: 'hello',
        num_connections: this.connections.length,
        debug_info: { host: 'slack-emulator', build_number: 1, approximate_connection_time: 3600 },
        connection_info: { app_id: this.appId },
      }),
    );
    return true;
  }

  /** Sends one envelope and waits for its ack (undefined when none came within timeoutMs). */
  async deliver(type: string, payload: unknown, timeoutMs: number): Promise<SocketAck | undefined> {
    const conn = [...this.connections].reverse().find((c) => c.open);
    if (!conn) throw new Error('slack emulator: no Socket Mode connection is open (did the bot start?)');
    const envelopeId = randomUUID();
    const acked = new Promise<SocketAck>((resolve) => this.waiting.set(envelopeId, resolve));
    conn.sendText(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: true }));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      return await Promise.race([acked, timeout]);
    } finally {
      clearTimeout(timer);
      this.waiting.delete(envelopeId);
    }
  }

  private received(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    const id = (msg as { envelope_id?: unknown }).envelope_id;
    if (typeof id === 'string') this.waiting.get(id)?.(msg as SocketAck);
  }

  closeAll(): void {
    for (const c of [...this.connections]) c.close(1001);
  }
}
