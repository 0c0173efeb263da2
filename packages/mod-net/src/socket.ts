/**
 * {@link Socket}: a connected stream socket (TCP or unix) on a non-blocking descriptor watched by a runtime.
 *
 * @module
 */

import {
  Interest,
  InvalidArgumentError,
  describeReceived,
  SocketClosedError,
  TimeoutError,
  errnoError,
  systemErrno,
  type NetSyscalls,
  type ReadyEvent,
  type Runtime,
  type SocketAddressInfo,
  type Watcher,
} from '@fdloop/core';
import { check, integer, stateOf, type NetState } from './common.js';

/**
 * Callbacks of a {@link Socket}, set with {@link Socket.handle}. Each is optional. They run on the runtime's
 * thread; an exception goes to the runtime's `onError` and the socket is destroyed with it.
 */
export interface SocketHandlers {
  /**
   * Data arrived. `chunk` is a view of a buffer the runtime reuses: it is valid only during this call, so copy
   * what you keep (`Buffer.from(chunk)`).
   */
  data?(chunk: Buffer, socket: Socket): void;
  /** The peer shut down its writing side (end of stream). Unless `allowHalfOpen`, the socket then ends too. */
  end?(socket: Socket): void;
  /** The write queue fell from at least {@link Socket.highWaterMark} to empty. */
  drain?(socket: Socket): void;
  /** The idle timeout set by {@link Socket.setTimeout} expired. Without this handler the socket is destroyed. */
  timeout?(socket: Socket): void;
  /** The socket closed; `error` is set when it closed because of one (`ECONNRESET`, a timeout…). Called once. */
  close?(error: Error | undefined, socket: Socket): void;
}

/** Options of a {@link Socket}. */
export interface SocketOptions {
  /**
   * Keep the writing side open after the peer ended its side (half-close). Defaults to `false`: the socket ends
   * its side too once its queued data is sent, as in Node.
   */
  readonly allowHalfOpen?: boolean;
  /** Queued bytes above which {@link Socket.write} returns `false`. Defaults to `65536`. */
  readonly highWaterMark?: number;
}

const ENOTCONN = systemErrno('ENOTCONN');
const EPIPE = systemErrno('EPIPE');
const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

/**
 * A connected stream socket. Create one with `connect()`, receive them from a `Server`, or `adopt()` a
 * descriptor. Reading starts at once: set callbacks with {@link Socket.handle}, or pull copies with
 * {@link Socket.read} / `for await`. Writing never blocks: {@link Socket.write} sends what the kernel takes
 * and queues the rest (watching for writability only while something is queued); consecutive writes between
 * {@link Socket.cork} and {@link Socket.uncork} go out in one `writev`.
 *
 * @example
 * ```ts
 * const socket = await net.connect({ host: '127.0.0.1', port });
 * socket.handle({ data: (chunk) => console.log(chunk.toString()), close: () => console.log('closed') });
 * socket.write('hello');
 * socket.end();
 * ```
 */
export class Socket implements AsyncIterable<Buffer> {
  /** The descriptor. It belongs to the socket: {@link Socket.close} closes it. */
  readonly fd: number;
  /** The runtime the socket is registered with. */
  readonly runtime: Runtime;
  /** Queued bytes above which {@link Socket.write} returns `false`. */
  readonly highWaterMark: number;
  /** Whether the writing side stays open after the peer's end (see {@link SocketOptions.allowHalfOpen}). */
  readonly allowHalfOpen: boolean;

  private readonly net: NetSyscalls;
  private readonly eagain: number;
  private readonly state: NetState;
  private watcher: Watcher | undefined;
  private interest = 0;
  private handlers: SocketHandlers = {};
  private queue: Uint8Array[] = [];
  private qHead = 0;
  private qOffset = 0;
  private queuedBytes = 0;
  private corks = 0;
  private needDrain = false;
  private paused = false;
  private pauseHold: (() => void) | undefined;
  private readEnded = false;
  private ending = false;
  private writeEnded = false;
  private isClosed = false;
  private refd = true;
  private idleTimeout = 0;
  private lastActivity = 0;
  private idleTimer: ReturnType<Runtime['setTimeout']> | undefined;
  private pulled: Buffer[] | undefined;
  private pulledBytes = 0;
  private pullWaiter: { resolve: (b: Buffer | null) => void; reject: (e: Error) => void } | undefined;
  private closeError: Error | undefined;
  private closedWaiters: (() => void)[] | undefined;
  private remote: SocketAddressInfo | undefined;

  /**
   * Wrap a connected, non-blocking stream socket. Prefer `connect()`, a `Server` or `adopt()`, which prepare the
   * descriptor; the socket owns `fd` from now on.
   */
  constructor(runtime: Runtime, net: NetSyscalls, fd: number, options: SocketOptions = {}) {
    this.runtime = runtime;
    this.net = net;
    this.eagain = -net.constants.EAGAIN;
    this.fd = fd;
    this.state = stateOf(runtime);
    this.highWaterMark = options.highWaterMark === undefined ? DEFAULT_HIGH_WATER_MARK : integer('highWaterMark', options.highWaterMark, 0, 2 ** 31);
    this.allowHalfOpen = options.allowHalfOpen ?? false;
    this.state.open.add(this);
    this.updateInterest();
  }

  /** Whether the socket is closed. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Bytes queued in user space, not yet taken by the kernel. */
  get bufferedAmount(): number {
    return this.queuedBytes;
  }

  /** Whether the peer ended its writing side. */
  get readableEnded(): boolean {
    return this.readEnded;
  }

  /** Whether {@link Socket.write} is allowed: not closed and {@link Socket.end} not called. */
  get writable(): boolean {
    return !this.isClosed && !this.ending;
  }

  /** Whether this side's writing side is shut down (after {@link Socket.end} flushed). */
  get writableEnded(): boolean {
    return this.writeEnded;
  }

  /** The peer's address (`{ family: 'IPv4', address: '127.0.0.1', port }`; unix peers have `port` 0). */
  remoteAddress(): SocketAddressInfo {
    if (this.remote === undefined) {
      const out: SocketAddressInfo = { family: '', address: '', port: 0 };
      check(this.net.peerAddress(this.fd, out), 'getpeername', this.fd);
      this.remote = out;
    }
    return this.remote;
  }

  /** This side's address. */
  localAddress(): SocketAddressInfo {
    const out: SocketAddressInfo = { family: '', address: '', port: 0 };
    check(this.net.localAddress(this.fd, out), 'getsockname', this.fd);
    return out;
  }

  /**
   * Set the callbacks (replacing earlier ones). Data that arrived before and was not yet pulled with
   * {@link Socket.read} is delivered to `data` first.
   * @returns the socket.
   */
  handle(handlers: SocketHandlers): this {
    if (handlers === null || typeof handlers !== 'object') throw new InvalidArgumentError('handlers', 'must be an object');
    this.handlers = handlers;
    if (this.pulled !== undefined && handlers.data !== undefined) {
      const pending = this.pulled;
      this.pulled = undefined;
      this.pulledBytes = 0;
      for (const chunk of pending) handlers.data(chunk, this);
      this.updateInterest();
    }
    return this;
  }

  /** Disable (`true`, the default argument) or enable Nagle's algorithm (`TCP_NODELAY`). TCP only. */
  setNoDelay(noDelay = true): this {
    const c = this.net.constants;
    check(this.net.setOption(this.fd, c.IPPROTO_TCP, c.TCP_NODELAY, noDelay ? 1 : 0), 'setsockopt', this.fd);
    return this;
  }

  /**
   * Switch TCP keep-alive probes on or off.
   * @param initialDelay idle milliseconds before the first probe (rounded up to seconds); `0` keeps the system's
   *   default. Defaults to `0`.
   */
  setKeepAlive(enable: boolean, initialDelay = 0): this {
    const c = this.net.constants;
    check(this.net.setOption(this.fd, c.SOL_SOCKET, c.SO_KEEPALIVE, enable ? 1 : 0), 'setsockopt', this.fd);
    if (enable && initialDelay > 0 && c.TCP_KEEPIDLE >= 0) {
      const seconds = Math.max(1, Math.ceil(integer('initialDelay', initialDelay, 0, 2 ** 31) / 1000));
      check(this.net.setOption(this.fd, c.IPPROTO_TCP, c.TCP_KEEPIDLE, seconds), 'setsockopt', this.fd);
    }
    return this;
  }

  /**
   * Set an idle timeout: when nothing is read or written for `timeout` milliseconds, the `timeout` handler (or
   * `onTimeout`) runs; with neither, the socket is destroyed with a `TimeoutError`. `0` switches it off.
   */
  setTimeout(timeout: number, onTimeout?: () => void): this {
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) {
      throw new InvalidArgumentError('timeout', `must be a finite number of milliseconds >= 0, got ${describeReceived(timeout)}`);
    }
    if (onTimeout !== undefined) this.handlers = { ...this.handlers, timeout: onTimeout };
    this.idleTimeout = timeout;
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    if (timeout > 0 && !this.isClosed) {
      this.lastActivity = performance.now();
      this.armIdle(timeout);
    }
    return this;
  }

  private armIdle(delay: number): void {
    const t = this.runtime.setTimeout(() => this.onIdle(), delay);
    t.unref();
    this.idleTimer = t;
  }

  private onIdle(): void {
    this.idleTimer = undefined;
    if (this.isClosed || this.idleTimeout === 0) return;
    // Activity only stamps a time (no timer work per read or write); the timer re-arms for what is left.
    const left = this.lastActivity + this.idleTimeout - performance.now();
    if (left > 1) {
      this.armIdle(left);
      return;
    }
    if (this.handlers.timeout !== undefined) {
      this.call(() => this.handlers.timeout?.(this));
      if (!this.isClosed && this.idleTimeout > 0) {
        this.lastActivity = performance.now();
        this.armIdle(this.idleTimeout);
      }
    } else {
      this.destroy(new TimeoutError('idle', this.idleTimeout));
    }
  }

  /** Stop reading (the kernel's receive buffer then fills and the peer's writes slow down). */
  pause(): this {
    this.paused = true;
    this.updateInterest();
    return this;
  }

  /** Resume reading after {@link Socket.pause}. */
  resume(): this {
    this.paused = false;
    this.updateInterest();
    return this;
  }

  /** Whether reading is paused. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Hold writes in the queue until the matching {@link Socket.uncork}, then send them in one `writev`. */
  cork(): void {
    this.corks += 1;
  }

  /** Undo one {@link Socket.cork}; the last one sends everything queued. */
  uncork(): void {
    if (this.corks === 0) return;
    this.corks -= 1;
    if (this.corks === 0 && this.queuedBytes > 0 && !this.isClosed) this.flush();
  }

  /**
   * Send `data` (a string is sent as UTF-8). What the kernel does not take at once is queued and sent when the
   * socket becomes writable. Do not change a buffer after writing it: it is queued without a copy.
   * @returns `false` when the queue holds {@link Socket.highWaterMark} bytes or more: wait for the `drain`
   *   handler or {@link Socket.drained} before writing more.
   * @throws SocketClosedError after {@link Socket.end} or close.
   */
  write(data: Uint8Array | string): boolean {
    if (this.isClosed || this.ending) throw new SocketClosedError(this.isClosed ? 'write after close' : 'write after end');
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(buf instanceof Uint8Array)) throw new InvalidArgumentError('data', 'must be a string, Buffer or Uint8Array');
    const length = buf.byteLength;
    if (length === 0) return this.queuedBytes < this.highWaterMark;
    if (this.idleTimeout > 0) this.lastActivity = performance.now();
    if (this.queuedBytes === 0 && this.corks === 0) {
      let n = this.net.send(this.fd, buf, 0, length);
      if (n === length) return true;
      if (n < 0) {
        if (n !== this.eagain) {
          this.failLater(errnoError(n, 'write', { fd: this.fd }));
          return false;
        }
        n = 0;
      }
      this.enqueue(n === 0 ? buf : buf.subarray(n));
      this.updateInterest();
    } else {
      this.enqueue(buf);
    }
    if (this.queuedBytes >= this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Write several buffers as one batch (one `writev` when the queue is empty).
   * @returns as {@link Socket.write}.
   */
  writev(chunks: readonly (Uint8Array | string)[]): boolean {
    this.cork();
    try {
      for (const chunk of chunks) this.write(chunk);
    } finally {
      this.uncork();
    }
    return this.queuedBytes < this.highWaterMark;
  }

  /** A promise that resolves when the write queue is empty (at once if it is), or rejects if the socket closes first. */
  drained(): Promise<void> {
    if (this.queuedBytes === 0) return Promise.resolve();
    if (this.isClosed) return Promise.reject(this.closeError ?? new SocketClosedError());
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.isClosed) reject(this.closeError ?? new SocketClosedError());
        else if (this.queuedBytes === 0) resolve();
        else this.waitDrain(check);
      };
      this.waitDrain(check);
    });
  }

  private drainWaiters: (() => void)[] | undefined;
  private waitDrain(fn: () => void): void {
    (this.drainWaiters ??= []).push(fn);
  }

  /**
   * Half-close: send `data` (optional) and everything queued, then shut down the writing side (the peer reads end
   * of stream). Reading continues until the peer ends too; then the socket closes.
   */
  end(data?: Uint8Array | string): void {
    if (this.isClosed || this.ending) return;
    if (data !== undefined) this.write(data);
    this.ending = true;
    if (this.queuedBytes === 0 && this.corks === 0) this.shutdownWrite();
  }

  private shutdownWrite(): void {
    if (this.writeEnded || this.isClosed) return;
    this.writeEnded = true;
    const rc = this.net.shutdown(this.fd, this.net.constants.SHUT_WR);
    // ENOTCONN: the peer is already gone; the read side reports how.
    if (rc < 0 && rc !== ENOTCONN) {
      this.destroy(errnoError(rc, 'shutdown', { fd: this.fd }));
      return;
    }
    if (this.readEnded) this.close();
    else this.updateInterest();
  }

  /** Close at once, discarding queued data. Idempotent. The `close` handler runs with no error. */
  close(): void {
    this.finish(undefined);
  }

  /** Close at once because of `error` (given to the `close` handler and pending reads). Idempotent. */
  destroy(error?: Error): void {
    this.finish(error);
  }

  /** Resolves when the socket has closed (with or without an error). */
  whenClosed(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => (this.closedWaiters ??= []).push(resolve));
  }

  /** Stop this socket from keeping the runtime (and Node) alive. */
  unref(): this {
    this.refd = false;
    this.watcher?.unref();
    return this;
  }

  /** Let this socket keep the runtime alive again (the default). */
  ref(): this {
    this.refd = true;
    this.watcher?.ref();
    return this;
  }

  /**
   * Pull the next chunk (a copy). Resolves `null` at end of stream. Only while no `data` handler is set; chunks
   * that arrive while nobody pulls are buffered up to {@link Socket.highWaterMark}, then reading pauses.
   */
  read(): Promise<Buffer | null> {
    if (this.pullWaiter !== undefined) return Promise.reject(new InvalidArgumentError('read', 'another read() is pending'));
    const pulled = this.pulled;
    if (pulled !== undefined && pulled.length > 0) {
      const chunk = pulled.shift() as Buffer;
      this.pulledBytes -= chunk.byteLength;
      if (this.paused && this.pulledBytes < this.highWaterMark) this.resume();
      return Promise.resolve(chunk);
    }
    if (this.readEnded) return Promise.resolve(null);
    if (this.isClosed) return this.closeError ? Promise.reject(this.closeError) : Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.pullWaiter = { resolve, reject };
    });
  }

  /** Iterate over the incoming chunks (copies) until end of stream. */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  private enqueue(buf: Uint8Array): void {
    this.queue.push(buf);
    this.queuedBytes += buf.byteLength;
  }

  private updateInterest(): void {
    if (this.isClosed) return;
    let interest = 0;
    if (!this.paused && !this.readEnded) interest |= Interest.READABLE;
    if (this.queuedBytes > 0 && this.corks === 0) interest |= Interest.WRITABLE;
    if (interest === this.interest && (interest === 0) === (this.watcher === undefined)) return;
    this.interest = interest;
    if (interest === 0) {
      // An interest must not be empty: stop watching, and hold the runtime open while paused with nothing to do,
      // so that run() does not finish under a consumer that is about to resume.
      this.watcher?.close();
      this.watcher = undefined;
      if (this.paused && !this.readEnded && this.pauseHold === undefined && this.refd) {
        this.pauseHold = this.runtime.hold('paused socket');
      }
      return;
    }
    if (this.pauseHold !== undefined) {
      this.pauseHold();
      this.pauseHold = undefined;
    }
    if (this.watcher === undefined) {
      this.watcher = this.runtime.watch(this.fd, interest, this.onReady);
      if (!this.refd) this.watcher.unref();
    } else {
      this.watcher.modify(interest);
    }
  }

  private readonly onReady = (ev: ReadyEvent): void => {
    const flags = ev.flags;
    // WRITABLE first: an error or hang-up is seen by the read that follows.
    if (flags & 2 && this.queuedBytes > 0) this.flush();
    if (this.isClosed) return;
    if (flags & (1 | 8 | 16 | 32) && this.interest & Interest.READABLE) this.readOnce();
    else if (flags & 32 && !(this.interest & Interest.READABLE)) {
      const err = this.net.socketError(this.fd);
      this.destroy(errnoError(err > 0 ? err : EPIPE, 'write', { fd: this.fd }));
    }
  };

  private readOnce(): void {
    const buffer = this.state.readBuffer;
    const n = this.net.read(this.fd, buffer, 0, buffer.byteLength);
    if (n > 0) {
      if (this.idleTimeout > 0) this.lastActivity = performance.now();
      const chunk = buffer.subarray(0, n);
      const onData = this.handlers.data;
      if (onData !== undefined) {
        try {
          onData(chunk, this);
        } catch (error) {
          this.destroy(error instanceof Error ? error : new Error(String(error)));
          throw error;
        }
      } else {
        this.pushPulled(Buffer.from(chunk));
      }
      return;
    }
    if (n === 0) {
      this.onEnd();
      return;
    }
    if (n === this.eagain) return;
    this.destroy(errnoError(n, 'read', { fd: this.fd }));
  }

  private pushPulled(chunk: Buffer): void {
    const waiter = this.pullWaiter;
    if (waiter !== undefined) {
      this.pullWaiter = undefined;
      waiter.resolve(chunk);
      return;
    }
    (this.pulled ??= []).push(chunk);
    this.pulledBytes += chunk.byteLength;
    if (this.pulledBytes >= this.highWaterMark) this.pause();
  }

  private onEnd(): void {
    this.readEnded = true;
    this.updateInterest();
    const waiter = this.pullWaiter;
    if (waiter !== undefined) {
      this.pullWaiter = undefined;
      waiter.resolve(null);
    }
    this.call(() => this.handlers.end?.(this));
    if (this.isClosed) return;
    if (this.writeEnded) this.close();
    else if (!this.allowHalfOpen) this.end();
  }

  private flush(): void {
    const net = this.net;
    while (this.queuedBytes > 0) {
      const q = this.queue;
      const count = q.length - this.qHead;
      let n: number;
      if (count === 1) {
        const b = q[this.qHead] as Uint8Array;
        n = net.send(this.fd, b, this.qOffset, b.byteLength - this.qOffset);
      } else {
        n = net.writev(this.fd, q, this.qHead, this.qOffset);
      }
      if (n < 0) {
        if (n === this.eagain) break;
        this.destroy(errnoError(n, 'write', { fd: this.fd }));
        return;
      }
      this.consume(n);
    }
    if (this.queuedBytes === 0) {
      this.queue.length = 0; // reused: no allocation per flush
      this.qHead = 0;
      this.qOffset = 0;
    } else if (this.qHead > 64) {
      this.queue = this.queue.slice(this.qHead);
      this.qHead = 0;
    }
    this.updateInterest();
    if (this.queuedBytes === 0) {
      if (this.needDrain) {
        this.needDrain = false;
        this.call(() => this.handlers.drain?.(this));
      }
      const waiters = this.drainWaiters;
      if (waiters !== undefined) {
        this.drainWaiters = undefined;
        for (const w of waiters) w();
      }
      if (this.ending && !this.isClosed) this.shutdownWrite();
    }
  }

  private consume(n: number): void {
    this.queuedBytes -= n;
    const q = this.queue;
    while (n > 0) {
      const b = q[this.qHead] as Uint8Array;
      const left = b.byteLength - this.qOffset;
      if (n >= left) {
        n -= left;
        q[this.qHead] = EMPTY;
        this.qHead += 1;
        this.qOffset = 0;
      } else {
        this.qOffset += n;
        n = 0;
      }
    }
  }

  private failLater(error: Error): void {
    queueMicrotask(() => this.destroy(error));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.destroy(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  private finish(error: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeError = error;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.pauseHold !== undefined) {
      this.pauseHold();
      this.pauseHold = undefined;
    }
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    this.state.open.delete(this);
    // Ignored on purpose: the descriptor is released either way, and the error being reported (if any) matters more.
    this.net.close(this.fd);
    this.queue = [];
    this.queuedBytes = 0;
    const waiter = this.pullWaiter;
    if (waiter !== undefined) {
      this.pullWaiter = undefined;
      if (error !== undefined) waiter.reject(error);
      else waiter.resolve(null);
    }
    const drains = this.drainWaiters;
    this.drainWaiters = undefined;
    if (drains !== undefined) for (const w of drains) w();
    const closed = this.closedWaiters;
    this.closedWaiters = undefined;
    if (closed !== undefined) for (const w of closed) w();
    const onClose = this.handlers.close;
    if (onClose !== undefined) onClose(error, this);
  }
}

const EMPTY = new Uint8Array(0);
