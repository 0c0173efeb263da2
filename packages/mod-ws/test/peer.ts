/**
 * A raw WebSocket peer for tests, written against RFC 6455 directly on node:net (no WebSocket library): it does
 * the handshake by hand, sends frames built byte by byte (including invalid ones), in chosen pieces, and records
 * every frame the other side sends and when the TCP connection ends.
 */

import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';

export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function accept(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One frame to send. Defaults: FIN set, no reserved bits, masked as the sending role requires. */
export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Buffer | string;
  readonly fin?: boolean;
  /** The three reserved bits (0–7). */
  readonly rsv?: number;
  /** Override masking: `true`/`false` regardless of role. */
  readonly mask?: boolean;
  /** Claim this payload length in the header (the payload sent is still `payload`). */
  readonly length?: number;
  /** Mask when the sender must not, and the other way round. */
  readonly wrongMask?: boolean;
}

/** Encode a frame. `masked`: apply a random masking key (what a client must do). */
export function encodeFrame(spec: FrameSpec, masked: boolean): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : (spec.payload ?? Buffer.alloc(0));
  const mask = spec.mask ?? (spec.wrongMask === true ? !masked : masked);
  const length = spec.length ?? payload.length;
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  const m = mask ? 0x80 : 0;
  if (length < 126) head.push(m | length);
  else if (length < 65536) head.push(m | 126, length >> 8, length & 0xff);
  else {
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(m | 127, ...big);
  }
  let body = payload;
  if (mask) {
    const key = randomBytes(4);
    head.push(...key);
    body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i & 3] as number);
  }
  return Buffer.concat([Buffer.from(head), body]);
}

/** A frame received. */
export interface Received {
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Buffer;
}

/** The close code and reason of a close frame's payload (`code` 1005 when empty). */
export function closeOf(frame: Received): { code: number; reason: string } {
  if (frame.payload.length < 2) return { code: 1005, reason: '' };
  return { code: frame.payload.readUInt16BE(0), reason: frame.payload.toString('utf8', 2) };
}

export function closePayload(code: number, reason: string | Buffer = ''): Buffer {
  const r = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

/** One side of a connection with a raw socket: records frames and the end of the connection. */
export class RawPeer {
  readonly socket: Socket;
  /** Whether this peer masks its frames (it plays the client). */
  readonly masks: boolean;
  readonly frames: Received[] = [];
  ended = false;
  closed = false;
  private buffer: Buffer;
  private waiters: (() => void)[] = [];

  constructor(socket: Socket, masks: boolean, leftover: Buffer) {
    this.socket = socket;
    this.masks = masks;
    this.buffer = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    // A reset is one of the outcomes a case may see; it is recorded by `closed`.
    socket.on('error', () => undefined);
    if (leftover.length > 0) this.onData(leftover);
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) break;
      const b1 = b[1] as number;
      let len = b1 & 0x7f;
      let o = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        o = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(b.readBigUInt64BE(2));
        o = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) o += 4;
      if (b.length < o + len) break;
      const payload = Buffer.from(b.subarray(o, o + len));
      if (masked) {
        const key = b.subarray(o - 4, o);
        for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (key[i & 3] as number);
      }
      const b0 = b[0] as number;
      this.frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
      this.buffer = b.subarray(o + len);
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait until `predicate` holds (re-checked on every frame and on end/close), at most `ms`. */
  async until(predicate: () => boolean, ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  /** Send raw bytes, in pieces of `chop` bytes (each its own write, a turn of the loop apart) when given. */
  async sendBytes(bytes: Buffer, chop?: number): Promise<void> {
    if (this.socket.destroyed) return;
    if (chop === undefined || chop >= bytes.length) {
      this.socket.write(bytes);
      return;
    }
    for (let i = 0; i < bytes.length && !this.socket.destroyed; i += chop) {
      this.socket.write(bytes.subarray(i, i + chop));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async send(frames: readonly FrameSpec[], chop?: number): Promise<void> {
    await this.sendBytes(Buffer.concat(frames.map((f) => encodeFrame(f, this.masks))), chop);
  }

  /** The close frame received, if any. */
  get closeFrame(): Received | undefined {
    return this.frames.find((f) => f.opcode === 8);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Connect to a WebSocket server at `port` as a raw client: handshake by hand, then frames. */
export async function rawClient(port: number, path = '/', extraHeaders = ''): Promise<RawPeer> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
  );
  const { head, rest } = await readHead(socket);
  if (!head.startsWith('HTTP/1.1 101 ')) throw new Error(`handshake refused: ${head.split('\r\n')[0]}`);
  if (!head.includes(`Sec-WebSocket-Accept: ${accept(key)}`)) throw new Error('wrong Sec-WebSocket-Accept');
  return new RawPeer(socket, true, rest);
}

/** Read an HTTP head from `socket`: the head text and the bytes after it. */
export function readHead(socket: Socket): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('error', reject);
      socket.off('end', onEnd);
      resolve({ head: buf.toString('latin1', 0, end + 4), rest: buf.subarray(end + 4) });
    };
    const onEnd = (): void => reject(new Error(`connection ended before a full head: ${JSON.stringify(buf.toString('latin1'))}`));
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', onEnd);
  });
}

/** Send raw bytes as a whole HTTP exchange and collect everything until the server closes. */
export async function rawExchange(port: number, request: string | Buffer, ms = 5000): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  return new Promise((resolve, reject) => {
    let out = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${ms} ms; got ${JSON.stringify(out.toString('latin1'))}`));
    }, ms);
    socket.on('data', (chunk: Buffer) => (out = Buffer.concat([out, chunk])));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out.toString('latin1'));
    });
    socket.on('connect', () => socket.end(request));
  });
}

/**
 * A raw WebSocket server: accepts one handshake per connection (answering 101 with the right accept and the
 * given extra header lines, or `answer` verbatim), then hands each connection to `onPeer` as an unmasking peer.
 */
export async function rawServer(
  onPeer: (peer: RawPeer, request: string) => void,
  options: { answer?: (key: string, request: string) => string } = {},
): Promise<{ port: number; server: Server; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    void readHead(socket).then(
      ({ head, rest }) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '';
        const answer =
          options.answer?.(key, head) ??
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`;
        socket.write(answer, 'latin1');
        onPeer(new RawPeer(socket, false, rest), head);
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
