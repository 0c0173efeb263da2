/**
 * {@link WebSocket}: one open WebSocket connection (either side) over a mod-net socket.
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import {
  InvalidArgumentError,
  SocketClosedError,
  TimeoutError,
  WebSocketProtocolError,
  type Runtime,
  type SocketAddressInfo,
} from '@fdloop/core';
import type { Socket } from '@fdloop/mod-net';
import { CloseCode, MAX_CONTROL_PAYLOAD, MaskKeys, Opcode, applyMask, headerLength, isValidCloseCode, writeHeader } from './frame.js';
import { Receiver, type ReceiverSink } from './receiver.js';

/** Options of a connection, on either side (given to a `WebSocketServer` or to `connect()`). */
export interface WebSocketOptions {
  /**
   * Largest message received, all fragments together. A larger one fails the connection with close code 1009
   * as soon as its header announces it. Defaults to `16 MiB`.
   */
  readonly maxMessageSize?: number;
  /** Largest single frame received (→ 1009). Defaults to `maxMessageSize`. */
  readonly maxFrameSize?: number;
  /**
   * How long the closing handshake may take: after a close frame is sent, the connection is closed anyway
   * when the peer has not answered (and, on a server, closed its side) within this time. Defaults to `5000` ms.
   */
  readonly closeTimeout?: number;
  /**
   * Send a ping every `heartbeat` ms and close the connection (code 1006, a `TimeoutError`) when nothing at all
   * arrived from the peer during a whole interval: finds peers that vanished without a FIN (a device unplugged,
   * a NAT that forgot the connection). `0` for none. Defaults to `0`.
   */
  readonly heartbeat?: number;
  /**
   * Bytes of received messages waiting for {@link WebSocket.read} / `for await` above which reading from the
   * socket pauses until they are consumed (backpressure towards the peer). Defaults to `1 MiB`.
   */
  readonly highWaterMark?: number;
}

/** How a connection ended (see {@link WebSocket.whenClosed} and the `close` event). */
export interface CloseInfo {
  /**
   * The close code: the peer's (1000, 1001, 4000…), 1005 when its close frame had none, the one this side failed
   * the connection with (1002, 1007, 1009), or 1006 when the connection closed without a close frame.
   */
  readonly code: number;
  /** The peer's reason (UTF-8, at most 123 bytes), or `''`. */
  readonly reason: string;
  /** Whether both close frames were exchanged and nothing went wrong. */
  readonly wasClean: boolean;
  /**
   * Why it closed when something went wrong: a `WebSocketProtocolError` (the peer broke the protocol or a
   * limit), an `ErrnoError` (`ECONNRESET`), a `SocketClosedError` (the peer went away without a close frame),
   * a `TimeoutError` (closing handshake or heartbeat). `undefined` for a clean close or `terminate()`.
   */
  readonly error: Error | undefined;
}

/** Options of {@link WebSocket.send}. */
export interface SendOptions {
  /** Send as a binary message. Defaults to `true` for bytes and `false` for a string. */
  readonly binary?: boolean;
  /**
   * `false`: this is a fragment and more of the same message follows (the next `send()` continues it; its
   * `binary` is ignored). Defaults to `true`.
   */
  readonly fin?: boolean;
}

/** What {@link WebSocket.send} accepts: a string (sent as UTF-8) or bytes. */
export type WebSocketData = string | ArrayBuffer | ArrayBufferView;

/**
 * The events of a {@link WebSocket}, with their arguments. `error` is only emitted when it has a listener, so a
 * misbehaving peer can never crash a process that did not ask to hear about it (the error is in the `close`
 * event and in {@link WebSocket.whenClosed} either way).
 */
export interface WebSocketEvents {
  /** A message: a string for a text message, a Buffer for a binary one. */
  message: [data: string | Buffer, isBinary: boolean];
  /** A ping arrived (it is answered with a pong automatically). */
  ping: [data: Buffer];
  /** A pong arrived. */
  pong: [data: Buffer];
  /** The connection closed (see {@link CloseInfo}). Emitted once. */
  close: [code: number, reason: string, error: Error | undefined];
  /** The send queue, after `send()` returned `false`, is empty again. */
  drain: [];
  /** The peer broke the protocol or vanished (only when listened to; the connection closes either way). */
  error: [error: Error];
}

/** @internal How a server or client hands a connection over. */
export interface WebSocketInit {
  readonly isServer: boolean;
  /** The negotiated subprotocol, or `''`. */
  readonly protocol: string;
  /** The URL (clients) or request target (servers). */
  readonly url: string;
  /** Told about every peer fault of this connection. */
  readonly onPeerError?: (error: Error, ws: WebSocket) => void;
}

const DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024;
const DEFAULT_CLOSE_TIMEOUT = 5000;
const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
/** Server frames up to this size are copied next to their header (one buffer, one send); larger ones go by writev. */
const COPY_LIMIT = 16 * 1024;
const EMPTY = Buffer.alloc(0);
const MASKS = new MaskKeys();

function sizeOption(name: string, value: number | undefined, dflt: number, min: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (value !== Infinity && !Number.isInteger(value))) {
    throw new InvalidArgumentError(name, `must be an integer >= ${min} (or Infinity), got ${String(value)}`);
  }
  return value;
}

/** @internal Check and complete connection options. */
export function connectionOptions(options: WebSocketOptions): Required<WebSocketOptions> {
  const maxMessageSize = sizeOption('maxMessageSize', options.maxMessageSize, DEFAULT_MAX_MESSAGE, 0);
  return {
    maxMessageSize,
    maxFrameSize: sizeOption('maxFrameSize', options.maxFrameSize, maxMessageSize, 0),
    closeTimeout: sizeOption('closeTimeout', options.closeTimeout, DEFAULT_CLOSE_TIMEOUT, 1),
    heartbeat: sizeOption('heartbeat', options.heartbeat, 0, 0),
    highWaterMark: sizeOption('highWaterMark', options.highWaterMark, DEFAULT_HIGH_WATER_MARK, 1),
  };
}

function toBytes(data: WebSocketData, name: string): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new InvalidArgumentError(name, 'must be a string, a Buffer, a typed array, a DataView or an ArrayBuffer');
}

function byteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

/**
 * One open WebSocket connection, on the server side (from a `WebSocketServer`) or the client side (from
 * `connect()`). Receive with events (`ws.on('message', (data, isBinary) => …)`) or by pulling
 * (`for await (const msg of ws)`, {@link WebSocket.read}): messages go to `message` listeners when there are
 * any, and are queued for pulling otherwise. Text messages arrive as strings (validated UTF-8), binary ones as
 * Buffers.
 *
 * Nothing a peer does throws into your code: a malformed frame, a reset or a vanished peer closes this
 * connection (`close` event, {@link WebSocket.whenClosed}), ends iteration, makes {@link WebSocket.send} return
 * `false`, and is reported to the server's `onClientError` hook and in the runtime's trace.
 *
 * @example
 * ```ts
 * ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })); // echo
 * ws.on('close', (code, reason) => console.log('closed', code, reason));
 * // or: for await (const msg of ws) ws.send(msg);
 * ```
 */
export class WebSocket extends EventEmitter<WebSocketEvents> implements AsyncIterable<string | Buffer> {
  /** `readyState`: the opening handshake is in progress (never seen from this API: connections are handed out open). */
  static readonly CONNECTING = 0;
  /** `readyState`: open; messages flow both ways. */
  static readonly OPEN = 1;
  /** `readyState`: a close frame was sent or received; the closing handshake is in progress. */
  static readonly CLOSING = 2;
  /** `readyState`: the connection is closed. */
  static readonly CLOSED = 3;

  /** The runtime. */
  readonly runtime: Runtime;
  /** Whether this is the server side of the connection. */
  readonly isServer: boolean;
  /** The subprotocol both sides agreed on (`Sec-WebSocket-Protocol`), or `''`. */
  readonly protocol: string;
  /** The extensions in use: always `''` (permessage-deflate is not implemented). */
  readonly extensions = '';
  /** The URL a client connected to, or the request target a server accepted (`'/chat?room=1'`). */
  readonly url: string;

  private readonly socket: Socket;
  private readonly receiver: Receiver;
  private readonly options: Required<WebSocketOptions>;
  private readonly onPeerError: ((error: Error, ws: WebSocket) => void) | undefined;
  private state: number = WebSocket.OPEN;
  private sentClose = false;
  private receivedClose: { code: number; reason: string } | undefined;
  private failure: { code: number; error: Error | undefined } | undefined;
  private fragmenting = false;
  private closeTimer: ReturnType<Runtime['setTimeout']> | undefined;
  private heartbeatTimer: ReturnType<Runtime['setInterval']> | undefined;
  private alive = true;
  private queue: (string | Buffer)[] = [];
  private queuedBytes = 0;
  private readWaiter: ((value: string | Buffer | null) => void) | undefined;
  private userPaused = false;
  private autoPaused = false;
  private parsing = false;
  private stash: Buffer | undefined;
  private info: CloseInfo | undefined;
  private closedWaiters: ((info: CloseInfo) => void)[] | undefined;
  private remote: SocketAddressInfo | undefined;

  /**
   * @internal Connections are made by a `WebSocketServer` (after the server's handshake) and by `connect()`
   * (after the client's); `head` holds bytes that arrived after the handshake.
   */
  constructor(runtime: Runtime, socket: Socket, head: Buffer, init: WebSocketInit, options: Required<WebSocketOptions>) {
    super();
    this.runtime = runtime;
    this.socket = socket;
    this.isServer = init.isServer;
    this.protocol = init.protocol;
    this.url = init.url;
    this.onPeerError = init.onPeerError;
    this.options = options;
    try {
      this.remote = socket.remoteAddress();
    } catch {
      // Already gone: the socket's close (below) tells.
    }
    const sink: ReceiverSink = {
      onMessage: (data, binary) => this.onMessage(data, binary),
      onPing: (data) => this.onPing(data),
      onPong: (data) => this.onPong(data),
      onClose: (code, reason) => this.onCloseFrame(code, reason),
      onViolation: (code, message) => this.onViolation(code, message),
    };
    this.receiver = new Receiver(this.isServer, options, sink);
    (this as unknown as EventEmitter).on('newListener', (event: string | symbol) => {
      // Messages that arrived before anyone listened (a client's first frames can travel with the handshake
      // answer) go to the first `message` listener, in order, before anything newer.
      if (event === 'message' && this.queue.length > 0) queueMicrotask(() => this.flushQueue());
    });
    if (head.length > 0) this.feed(head, true);
    if (socket.closed) {
      queueMicrotask(() => this.finish(undefined));
      return;
    }
    socket.handle({
      data: (chunk) => this.onData(chunk),
      end: () => this.onEnd(),
      drain: () => this.emit('drain'),
      close: (error) => this.finish(error),
    });
    if (options.heartbeat > 0) {
      const timer = runtime.setInterval(() => this.beat(), options.heartbeat);
      timer.unref();
      this.heartbeatTimer = timer;
    }
  }

  /** `WebSocket.OPEN`, `CLOSING` or `CLOSED` (numbers as in the browser API and npm `ws`). */
  get readyState(): number {
    return this.state;
  }

  /** Bytes sent but not yet taken by the kernel. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /** Whether reading is paused (by {@link WebSocket.pause}, or because unread messages reached the high-water mark). */
  get isPaused(): boolean {
    return this.userPaused || this.autoPaused;
  }

  /** How the connection ended, once it has (else `undefined`). */
  get closeInfo(): CloseInfo | undefined {
    return this.info;
  }

  /** The peer's address (`{ family: 'IPv4', address, port }`), as it was when the connection opened. */
  remoteAddress(): SocketAddressInfo | undefined {
    return this.remote;
  }

  /**
   * Send a message: a string as text, bytes as binary (override with `options.binary`). Bytes are not copied on
   * the server side: do not change them after sending. Never throws because of the peer: after the connection
   * started closing the message is dropped and `false` returned.
   * @returns `false` when the send queue is above the socket's high-water mark (wait for `drain` or
   *   `await ws.drained()`), or when the message was dropped because the connection is closing or closed.
   * @throws InvalidArgumentError for data that is neither a string nor bytes.
   *
   * @example
   * ```ts
   * if (!ws.send(JSON.stringify(update))) await ws.drained();
   * ws.send(Buffer.from([1, 2, 3]));
   * ws.send('part 1, ', { fin: false }); ws.send('part 2'); // one message in two fragments
   * ```
   */
  send(data: WebSocketData, options?: SendOptions): boolean {
    const payload = toBytes(data, 'data');
    if (this.state !== WebSocket.OPEN) return false;
    const binary = options?.binary ?? typeof payload !== 'string';
    const fin = options?.fin ?? true;
    const opcode = this.fragmenting ? Opcode.CONTINUATION : binary ? Opcode.BINARY : Opcode.TEXT;
    this.fragmenting = !fin;
    return this.writeFrame(opcode, fin, payload);
  }

  /**
   * Send a ping (at most 125 bytes of payload); the peer answers with a pong (`pong` event).
   * @returns as {@link WebSocket.send}.
   */
  ping(data: WebSocketData = EMPTY): boolean {
    return this.control(Opcode.PING, data);
  }

  /** Send an unsolicited pong (at most 125 bytes); pings are answered automatically. @returns as {@link WebSocket.send}. */
  pong(data: WebSocketData = EMPTY): boolean {
    return this.control(Opcode.PONG, data);
  }

  private control(opcode: number, data: WebSocketData): boolean {
    const payload = toBytes(data, 'data');
    if (byteLength(payload) > MAX_CONTROL_PAYLOAD) throw new InvalidArgumentError('data', `a control frame carries at most ${MAX_CONTROL_PAYLOAD} bytes`);
    if (this.state !== WebSocket.OPEN) return false;
    return this.writeFrame(opcode, true, payload);
  }

  /**
   * Start the closing handshake: send a close frame, wait (at most `closeTimeout`) for the peer's, then close the
   * connection. Without a code the frame carries none (the peer sees 1005). Idempotent.
   * @param code - 1000 (normal), 1001 (going away), 1002, 1003, 1007–1014, or 3000–4999 for applications.
   * @param reason - at most 123 bytes of UTF-8; needs a code.
   * @throws InvalidArgumentError for a code that may not be sent or a reason that is too long.
   *
   * @example
   * ```ts
   * ws.close(1000, 'bye');
   * const { code, wasClean } = await ws.whenClosed();
   * ```
   */
  close(code?: number, reason = ''): void {
    if (code !== undefined && (!Number.isInteger(code) || !isValidCloseCode(code))) {
      throw new InvalidArgumentError('code', `must be 1000-1003, 1007-1014 or 3000-4999, got ${String(code)}`);
    }
    if (typeof reason !== 'string') throw new InvalidArgumentError('reason', 'must be a string');
    if (reason !== '' && code === undefined) throw new InvalidArgumentError('reason', 'a reason needs a code');
    if (Buffer.byteLength(reason) > MAX_CONTROL_PAYLOAD - 2) throw new InvalidArgumentError('reason', 'must be at most 123 bytes of UTF-8');
    if (this.state !== WebSocket.OPEN) return;
    this.state = WebSocket.CLOSING;
    this.sendClose(code, reason);
    // The peer's close frame must be read even if the application paused reading.
    this.userPaused = false;
    this.autoPaused = false;
    this.resumeReading();
    this.armCloseTimer();
  }

  /** Close the connection at once, without a closing handshake (code 1006). Idempotent. */
  terminate(): void {
    if (this.info !== undefined) return;
    this.failure ??= { code: CloseCode.ABNORMAL, error: undefined };
    this.socket.close();
  }

  /** Stop reading: no `message` events until {@link WebSocket.resume}; the peer is slowed by TCP flow control. */
  pause(): this {
    this.userPaused = true;
    this.receiver.hold();
    if (!this.socket.closed) this.socket.pause();
    return this;
  }

  /** Resume reading after {@link WebSocket.pause}. */
  resume(): this {
    this.userPaused = false;
    this.resumeReading();
    return this;
  }

  /** Resolves when everything sent has been taken by the kernel, or when the connection closed. */
  drained(): Promise<void> {
    if (this.socket.closed || this.socket.bufferedAmount === 0) return Promise.resolve();
    return this.socket.drained().catch(() => undefined);
  }

  /**
   * The next message (a string for text, a Buffer for binary), or `null` once the peer's close frame arrived
   * or the connection closed. Used only while there is no `message` listener. Never rejects because of the
   * peer: how the connection ended is in {@link WebSocket.closeInfo}.
   */
  read(): Promise<string | Buffer | null> {
    if (this.readWaiter !== undefined) return Promise.reject(new InvalidArgumentError('read', 'another read() is pending'));
    if (this.queue.length > 0) return Promise.resolve(this.dequeue());
    if (this.receiver.stopped || this.info !== undefined) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.readWaiter = resolve;
    });
  }

  /**
   * Iterate over the messages until the connection closes. Ends quietly whatever the reason (check
   * {@link WebSocket.closeInfo}); leaving the loop early does not close the connection.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<string | Buffer> {
    for (;;) {
      const message = await this.read();
      if (message === null) return;
      yield message;
    }
  }

  /** Resolves with how the connection ended, once it has closed. Never rejects. */
  whenClosed(): Promise<CloseInfo> {
    if (this.info !== undefined) return Promise.resolve(this.info);
    return new Promise((resolve) => (this.closedWaiters ??= []).push(resolve));
  }

  /** Let the connection keep the runtime (and Node) alive: the default. */
  ref(): this {
    this.socket.ref();
    return this;
  }

  /** Do not let this connection keep the runtime alive. */
  unref(): this {
    this.socket.unref();
    return this;
  }

  // Receiving.

  private onData(chunk: Buffer): void {
    this.alive = true;
    if (this.receiver.stopped) return; // closing: the rest is discarded
    if (this.stash !== undefined) {
      // Reading is held and a read was already in flight: keep it, after what waits.
      this.stash = Buffer.concat([this.stash, chunk]);
      return;
    }
    this.feed(chunk, false);
  }

  /** Parse `data`; what a pause left unparsed is kept (copied when `owned` is false: the read buffer is reused). */
  private feed(data: Buffer, owned: boolean): void {
    this.parsing = true;
    let used: number;
    try {
      used = this.receiver.write(data);
    } finally {
      this.parsing = false;
    }
    if (used < data.length && !this.receiver.stopped) {
      const rest = data.subarray(used);
      this.stash = owned ? rest : Buffer.from(rest);
    }
  }

  private resumeReading(): void {
    if (this.userPaused || this.autoPaused) return;
    this.receiver.release();
    if (!this.parsing) {
      const stash = this.stash;
      if (stash !== undefined) {
        this.stash = undefined;
        this.feed(stash, true);
      }
    }
    if (!this.userPaused && !this.autoPaused && !this.socket.closed && this.socket.isPaused) this.socket.resume();
  }

  private onMessage(data: string | Buffer, binary: boolean): void {
    if (this.listenerCount('message') > 0) {
      if (this.queue.length === 0) {
        this.emit('message', data, binary);
        return;
      }
      this.enqueue(data);
      this.flushQueue();
      return;
    }
    const waiter = this.readWaiter;
    if (waiter !== undefined) {
      this.readWaiter = undefined;
      waiter(data);
      return;
    }
    this.enqueue(data);
  }

  private enqueue(data: string | Buffer): void {
    this.queue.push(data);
    this.queuedBytes += typeof data === 'string' ? data.length : data.length;
    if (this.queuedBytes >= this.options.highWaterMark && !this.autoPaused) {
      this.autoPaused = true;
      this.receiver.hold();
      if (!this.socket.closed) this.socket.pause();
    }
  }

  private dequeue(): string | Buffer {
    const data = this.queue.shift() as string | Buffer;
    this.queuedBytes -= data.length;
    if (this.autoPaused && this.queuedBytes < this.options.highWaterMark) {
      this.autoPaused = false;
      this.resumeReading();
    }
    return data;
  }

  private flushQueue(): void {
    while (this.queue.length > 0 && this.listenerCount('message') > 0) {
      const data = this.dequeue();
      this.emit('message', data, typeof data !== 'string');
    }
  }

  private onPing(data: Buffer): void {
    if (this.state === WebSocket.OPEN) this.writeFrame(Opcode.PONG, true, data);
    this.emit('ping', data);
  }

  private onPong(data: Buffer): void {
    this.emit('pong', data);
  }

  private onCloseFrame(code: number, reason: string): void {
    this.receivedClose = { code, reason };
    this.endReads();
    // Echo the peer's code and reason, as npm ws does (RFC 6455 §5.5.1: typically the code it received).
    if (!this.sentClose) this.sendClose(code === CloseCode.NO_STATUS ? undefined : code, reason);
    this.state = WebSocket.CLOSING;
    // The server closes the TCP connection first (RFC 6455 §7.1.1), so the TIME_WAIT is its; a client waits for
    // it, within closeTimeout.
    if (this.isServer) this.socket.end();
    this.armCloseTimer();
  }

  private onViolation(code: number, message: string): void {
    const error = new WebSocketProtocolError(code, message);
    this.failure = { code, error };
    this.endReads();
    this.reportPeerError(error);
    if (this.info !== undefined) return;
    if (!this.sentClose) this.sendClose(code, message.length <= 100 ? message : '');
    this.state = WebSocket.CLOSING;
    this.socket.end();
    this.armCloseTimer();
  }

  /** Nothing more will be parsed: pending reads end, and reading resumes so the peer's FIN is seen. */
  private endReads(): void {
    const waiter = this.readWaiter;
    this.readWaiter = undefined;
    waiter?.(null);
    this.stash = undefined;
    if (!this.socket.closed && this.socket.isPaused) this.socket.resume();
  }

  private onEnd(): void {
    if (this.receivedClose === undefined && this.failure === undefined) {
      const error = new SocketClosedError(
        this.receiver.midFrame ? 'the peer closed the connection in the middle of a frame' : 'the peer closed the connection without a close frame',
      );
      this.failure = { code: CloseCode.ABNORMAL, error };
      this.receiver.stop();
      this.endReads();
      this.reportPeerError(error);
      this.socket.close();
      return;
    }
    this.socket.end();
  }

  // Sending.

  private writeFrame(opcode: number, fin: boolean, payload: string | Uint8Array): boolean {
    const socket = this.socket;
    if (!socket.writable) return false;
    const length = byteLength(payload);
    if (this.isServer) {
      const hl = headerLength(length, false);
      if (length <= COPY_LIMIT) {
        const out = Buffer.allocUnsafe(hl + length);
        writeHeader(out, 0, opcode, fin, length, undefined);
        if (typeof payload === 'string') out.write(payload, hl, 'utf8');
        else out.set(payload, hl);
        return socket.write(out);
      }
      const header = Buffer.allocUnsafe(hl);
      writeHeader(header, 0, opcode, fin, length, undefined);
      return socket.writev([header, typeof payload === 'string' ? Buffer.from(payload) : payload]);
    }
    // A client masks every frame (RFC 6455 §5.3), into a buffer of its own: the caller's bytes stay unchanged.
    const hl = headerLength(length, true);
    const out = Buffer.allocUnsafe(hl + length);
    writeHeader(out, 0, opcode, fin, length, MASKS.next());
    if (typeof payload === 'string') out.write(payload, hl, 'utf8');
    else out.set(payload, hl);
    applyMask(out, hl, hl + length, out.subarray(hl - 4, hl), 0);
    return socket.write(out);
  }

  private sendClose(code: number | undefined, reason: string): void {
    this.sentClose = true;
    let payload: Buffer = EMPTY;
    if (code !== undefined) {
      payload = Buffer.allocUnsafe(2 + Buffer.byteLength(reason));
      payload.writeUInt16BE(code, 0);
      payload.write(reason, 2, 'utf8');
    }
    this.writeFrame(Opcode.CLOSE, true, payload);
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== undefined || this.info !== undefined) return;
    const timeout = this.options.closeTimeout;
    const timer = this.runtime.setTimeout(() => {
      this.closeTimer = undefined;
      if (this.info !== undefined) return;
      const error = new TimeoutError('closing handshake', timeout);
      if (this.failure === undefined) {
        this.failure = { code: this.receivedClose?.code ?? CloseCode.ABNORMAL, error };
        this.reportPeerError(error);
      }
      this.socket.destroy(error);
    }, timeout);
    timer.unref();
    this.closeTimer = timer;
  }

  private beat(): void {
    if (this.state !== WebSocket.OPEN) return;
    if (!this.alive) {
      const error = new TimeoutError('heartbeat', this.options.heartbeat);
      this.failure = { code: CloseCode.ABNORMAL, error };
      this.reportPeerError(error);
      this.socket.destroy(error);
      return;
    }
    this.alive = false;
    this.writeFrame(Opcode.PING, true, EMPTY);
  }

  private reportPeerError(error: Error): void {
    const rt = this.runtime;
    if (rt._tracing) {
      const r = this.remote;
      rt._trace(`[ws] ${this.isServer ? 'server' : 'client'} connection ${r === undefined ? '?' : `${r.address}:${r.port}`} ${this.url}: ${error.message}`);
    }
    this.onPeerError?.(error, this);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private finish(socketError: Error | undefined): void {
    if (this.info !== undefined) return;
    this.state = WebSocket.CLOSED;
    this.closeTimer?.cancel();
    this.closeTimer = undefined;
    this.heartbeatTimer?.cancel();
    this.heartbeatTimer = undefined;
    this.receiver.stop();
    this.stash = undefined;
    let info: CloseInfo;
    if (this.failure !== undefined) {
      info = { code: this.failure.code, reason: '', wasClean: false, error: this.failure.error ?? socketError };
    } else if (this.receivedClose !== undefined) {
      // A reset right after both close frames were exchanged still closed cleanly.
      info = { code: this.receivedClose.code, reason: this.receivedClose.reason, wasClean: this.sentClose, error: undefined };
    } else if (socketError !== undefined) {
      // The socket failed under us (ECONNRESET…): the peer's doing.
      info = { code: CloseCode.ABNORMAL, reason: '', wasClean: false, error: socketError };
      this.reportPeerError(socketError);
    } else {
      // Closed on this side (runtime closed, closeAllConnections…): nobody's fault, but not a clean close.
      info = { code: CloseCode.ABNORMAL, reason: '', wasClean: false, error: new SocketClosedError('the connection was closed without a closing handshake') };
    }
    this.info = info;
    const waiter = this.readWaiter;
    this.readWaiter = undefined;
    waiter?.(null);
    const waiters = this.closedWaiters;
    this.closedWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w(info);
    this.emit('close', info.code, info.reason, info.error);
  }
}
