/**
 * {@link open} and {@link SerialPort}: a serial port (or any tty) driven by readiness on an fdloop
 * {@link Runtime}, with non-blocking reads and writes made on the runtime's own thread. No thread pool is involved
 * at any point, so a port works the same on the main thread and in a worker thread, and a received byte reaches
 * JavaScript in the loop turn in which the kernel reported it.
 *
 * @module
 */

import { Duplex } from 'node:stream';
import {
  ClosedError,
  ErrnoError,
  Interest,
  InvalidArgumentError,
  describeReceived,
  errnoError,
  type ReadyEvent,
  type Runtime,
  type Timer,
  type Watcher,
} from '@fdloop/core';
import { loadNative, OPEN_STEPS, type NativeSerial } from './native.js';
import { DEFAULT_SETTINGS, decodeSettings, encodeSettings, resolveSettings, type LineSettings } from './settings.js';

const EAGAIN = -11;
const EIO = -5;

/** Reconnect policy of {@link SerialPortOptions.reconnect}. */
export interface ReconnectOptions {
  /** Milliseconds between attempts to reopen the path. Defaults to `500`. */
  readonly interval?: number;
  /** Attempts before giving up (the port then ends as without reconnect). Defaults to `Infinity`. */
  readonly maxAttempts?: number;
}

/** RS-485 settings (`TIOCSRS485`), for drivers that support them (many UARTs on embedded boards; not ptys). */
export interface Rs485Settings {
  /** RS-485 mode on. Defaults to `true` in {@link SerialPort.setRs485}. */
  readonly enabled?: boolean;
  /** RTS level while sending: `true` for logical high (`SER_RS485_RTS_ON_SEND`). Defaults to `true`. */
  readonly rtsOnSend?: boolean;
  /** RTS level after sending (`SER_RS485_RTS_AFTER_SEND`). Defaults to `false`. */
  readonly rtsAfterSend?: boolean;
  /** Keep receiving while sending (`SER_RS485_RX_DURING_TX`). Defaults to `false`. */
  readonly rxDuringTx?: boolean;
  /** Enable the bus termination resistor where the hardware has one (`SER_RS485_TERMINATE_BUS`). Defaults to `false`. */
  readonly terminateBus?: boolean;
  /** Delay of RTS before sending, in milliseconds. Defaults to `0`. */
  readonly delayRtsBeforeSend?: number;
  /** Delay of RTS after sending, in milliseconds. Defaults to `0`. */
  readonly delayRtsAfterSend?: number;
}

/** Options of {@link open}. Line settings ({@link LineSettings}) may be given here too. */
export interface SerialPortOptions extends Partial<LineSettings> {
  /**
   * The runtime whose thread does the port's I/O. Required: a port belongs to one runtime (one thread); a worker
   * thread creates its own runtime and opens its ports with it. The runtime's backend must support
   * `Interest.EDGE` (epoll does).
   */
  readonly runtime: Runtime;
  /**
   * Exclusive access: `TIOCEXCL` (other opens fail with `EBUSY`, except for root) plus a non-blocking `flock`
   * (held by root too, and honoured by serialport, minicom and screen); a port already locked fails with
   * `EBUSY`. Defaults to `true`.
   */
  readonly exclusive?: boolean;
  /**
   * Ask the driver for low latency (`ASYNC_LOW_LATENCY` through `TIOCSSERIAL`: FTDI and 8250 drivers shorten
   * their receive timers). Drivers without it (ptys, many USB CDC devices) are left alone and
   * {@link SerialPort.lowLatency} reads `false`. Defaults to `false`.
   */
  readonly lowLatency?: boolean;
  /** RS-485 settings to apply after opening; a driver without RS-485 fails the open with `ENOTTY`. */
  readonly rs485?: Rs485Settings;
  /**
   * Reopen the same path after the device disappeared (unplugged, or a pty's other side closed), with the same
   * settings. `true` uses the defaults of {@link ReconnectOptions}. Defaults to `false`.
   */
  readonly reconnect?: boolean | ReconnectOptions;
  /** Bytes asked for per `read(2)`. Defaults to `65536`. */
  readonly readSize?: number;
  /** The stream's high-water mark for both directions, in bytes. Defaults to `65536`. */
  readonly highWaterMark?: number;
}

/** Why a port lost its device; see {@link SerialPort.disconnectReason}. */
export interface DisconnectInfo {
  /**
   * `'EIO'`: a read or write failed with `EIO` (a pty whose other side closed, a USB adapter unplugged);
   * `'HUP'`: the tty was hung up (end of file or `EPOLLHUP`); `'error'`: another system-call failure.
   */
  readonly reason: 'EIO' | 'HUP' | 'error';
  /** The system-call error, when one caused it. */
  readonly error?: ErrnoError;
}

/** Modem control and status lines. */
export interface ModemLines {
  /** Data Terminal Ready (output). */
  readonly dtr: boolean;
  /** Request To Send (output). */
  readonly rts: boolean;
  /** Clear To Send (input). */
  readonly cts: boolean;
  /** Data Set Ready (input). */
  readonly dsr: boolean;
  /** Data Carrier Detect (input). */
  readonly dcd: boolean;
  /** Ring Indicator (input). */
  readonly ri: boolean;
}

/** Which kernel queue {@link SerialPort.flush} discards. */
export type FlushQueue = 'input' | 'output' | 'both';

interface PendingWrite {
  readonly data: Uint8Array;
  offset: number;
  readonly callback: (error?: Error | null) => void;
}

/** The callback of {@link SerialPort.write}: called once the data was accepted by the kernel, or with the error. */
export type WriteCallback = (error: Error | null | undefined) => void;

function integerOption(name: string, value: unknown, dflt: number, min: number, max: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}, got ${describeReceived(value)}`);
  }
  return value;
}

function reconnectPolicy(value: unknown): { interval: number; maxAttempts: number } | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { interval: 500, maxAttempts: Infinity };
  if (typeof value !== 'object' || value === null) {
    throw new InvalidArgumentError('options.reconnect', `must be a boolean or { interval, maxAttempts }, got ${describeReceived(value)}`);
  }
  const v = value as ReconnectOptions;
  const interval = integerOption('options.reconnect.interval', v.interval, 500, 1, 2 ** 31 - 1);
  const maxAttempts = v.maxAttempts === undefined || v.maxAttempts === Infinity ? Infinity : integerOption('options.reconnect.maxAttempts', v.maxAttempts, 0, 1, 2 ** 31 - 1);
  return { interval, maxAttempts };
}

function isRuntime(value: unknown): value is Runtime {
  return typeof value === 'object' && value !== null && typeof (value as Runtime).watch === 'function' && typeof (value as Runtime).setTimeout === 'function';
}

/**
 * Open a serial port or tty, configure it (raw mode plus the given {@link LineSettings}) and start watching it on
 * `options.runtime`. Opening never blocks: the device is opened with `O_NONBLOCK | O_NOCTTY`, and the remaining
 * steps are ioctls that return at once.
 *
 * @param path - the device (`/dev/ttyUSB0`, `/dev/ttyACM0`, a pty such as `/dev/pts/3`, or a symbolic link).
 * @param options - the runtime (required), line settings and port options; see {@link SerialPortOptions}.
 * @throws InvalidArgumentError for a bad option (`baudRate`, `dataBits`, `parity`…), naming it.
 * @throws ErrnoError from the kernel: `ENOENT` (no such path, `syscall: 'open'`), `EACCES`, `ENOTTY` (not a
 *   terminal, `syscall: 'ioctl'`), `EBUSY` (exclusively held elsewhere, `syscall: 'flock'` or `'open'`).
 * @throws UnsupportedError when the runtime's backend lacks edge-triggered readiness.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { epoll } from '@fdloop/backend-epoll';
 * import { open } from '@fdloop/mod-serial';
 *
 * const runtime = createRuntime({ backend: epoll() });
 * const port = open('/dev/ttyUSB0', { runtime, baudRate: 250000 });
 * port.write('AT\r\n');
 * for await (const chunk of port.chunks()) console.log(chunk.toString());
 * ```
 */
export function open(path: string, options: SerialPortOptions): SerialPort {
  return new SerialPort(path, options);
}

/**
 * An open serial port. It is a Node `Duplex` stream of bytes (so `pipe()`, `pipeline()`, `'data'`
 * callbacks and `for await` work, with backpressure both ways), plus the control operations of a serial line.
 *
 * **Reading** happens when the kernel reports the device readable (edge-triggered) and the stream wants data:
 * while the consumer is slow (the readable buffer is above its high-water mark), nothing is read and the kernel's
 * own buffer and flow control (RTS/CTS, XON/XOFF when enabled) hold the peer back.
 * **Writing** tries `write(2)` at once; what does not fit waits for the device to become writable again, and
 * `write()` returns `false` above the high-water mark as for any Node stream.
 *
 * Events besides the stream's own: `'disconnect'` ({@link DisconnectInfo}) when the device vanished,
 * `'reconnect'` when an opt-in reconnect reopened it, `'reconnectFailed'` when it gave up.
 */
export class SerialPort extends Duplex {
  /** The path the port was opened with. */
  readonly path: string;
  /** The runtime the port's I/O runs on. */
  readonly runtime: Runtime;
  /** Why the device went away, once it did; `undefined` while connected. */
  disconnectReason: DisconnectInfo | undefined;

  private readonly native: NativeSerial;
  private readonly exclusive: boolean;
  private readonly wantLowLatency: boolean;
  private readonly rs485Settings: Rs485Settings | undefined;
  private readonly reconnectOptions: { interval: number; maxAttempts: number } | undefined;
  private readonly readBuffer: Buffer;
  private readonly settingsBuffer = new Int32Array(9);
  private readonly readBackBuffer = new Int32Array(9);
  private currentSettings: LineSettings;
  private appliedSettings: LineSettings;
  private descriptor = -1;
  private watcher: Watcher | undefined;
  private readonly queue: PendingWrite[] = [];
  private wantRead = false;
  private readReady = true;
  private writeReady = true;
  private lowLatencyOn = false;
  private userClosed = false;
  private refd = true;
  private reconnectTimer: Timer | undefined;
  private reconnectAttempts = 0;
  private readonly timers = new Map<Timer, () => void>();

  /** Use {@link open}. */
  constructor(path: string, options: SerialPortOptions) {
    if (typeof path !== 'string' || path === '') {
      throw new InvalidArgumentError('path', `must be a non-empty string, got ${describeReceived(path)}`);
    }
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('options', 'must be an object with at least { runtime }');
    }
    if (!isRuntime(options.runtime)) {
      throw new InvalidArgumentError('options.runtime', 'must be an fdloop Runtime (createRuntime() from @fdloop/core)');
    }
    const settings = resolveSettings(DEFAULT_SETTINGS, options);
    const exclusive = options.exclusive ?? true;
    if (typeof exclusive !== 'boolean') throw new InvalidArgumentError('options.exclusive', 'must be a boolean');
    const lowLatency = options.lowLatency ?? false;
    if (typeof lowLatency !== 'boolean') throw new InvalidArgumentError('options.lowLatency', 'must be a boolean');
    const readSize = integerOption('options.readSize', options.readSize, 65536, 1, 16 * 1024 * 1024);
    const highWaterMark = integerOption('options.highWaterMark', options.highWaterMark, 65536, 0, 2 ** 30);
    const reconnect = reconnectPolicy(options.reconnect);
    const rs485 = options.rs485 === undefined ? undefined : validateRs485(options.rs485, 'options.rs485');

    super({ allowHalfOpen: true, highWaterMark, autoDestroy: true, emitClose: true });
    this.path = path;
    this.runtime = options.runtime;
    this.native = loadNative();
    this.exclusive = exclusive;
    this.wantLowLatency = lowLatency;
    this.rs485Settings = rs485;
    this.reconnectOptions = reconnect;
    this.readBuffer = Buffer.allocUnsafe(readSize);
    this.currentSettings = settings;
    this.appliedSettings = settings;
    // Errors of the first open are thrown to the caller; a stream that failed to open is simply destroyed.
    try {
      this.attach();
    } catch (error) {
      super.destroy();
      throw error;
    }
  }

  /** The descriptor, or `-1` while disconnected or after close. */
  get fd(): number {
    return this.descriptor;
  }

  /** Whether the device is open (false while waiting to reconnect, and after close). */
  get isOpen(): boolean {
    return this.descriptor >= 0;
  }

  /** The settings the driver accepted, read back from the kernel after the last change. */
  get settings(): LineSettings {
    return this.appliedSettings;
  }

  /** Whether the driver accepted the low-latency flag (see {@link SerialPortOptions.lowLatency}). */
  get lowLatency(): boolean {
    return this.lowLatencyOn;
  }

  /**
   * Data waiting to be written: bytes in this port's own queue (taken from the stream but not yet accepted by
   * the kernel) plus the stream's buffered writes.
   */
  get pendingWrite(): number {
    let n = 0;
    for (const w of this.queue) n += w.data.byteLength - w.offset;
    return n + this.writableLength;
  }

  // ---------------------------------------------------------------------------------------------- opening

  private attach(): void {
    const step = new Int32Array(1);
    const fd = this.native.open(this.path, this.exclusive, step);
    if (fd < 0) throw errnoError(fd, OPEN_STEPS[step[0] as number] ?? 'open', { path: this.path });
    try {
      this.configure(fd, this.currentSettings);
      if (this.wantLowLatency) this.lowLatencyOn = this.native.lowLatency(fd, true) === 0;
      if (this.rs485Settings !== undefined) this.applyRs485(fd, this.rs485Settings);
      this.watcher = this.runtime.watch(fd, Interest.READABLE | Interest.WRITABLE | Interest.EDGE, this.onReady);
      if (!this.refd) this.watcher.unref();
    } catch (error) {
      // The configuration error is the one worth reporting; the close result would only hide it.
      this.native.close(fd);
      throw error;
    }
    this.descriptor = fd;
    this.readReady = true;
    this.writeReady = true;
  }

  private configure(fd: number, settings: LineSettings): void {
    const rc = this.native.applySettings(fd, encodeSettings(settings, this.settingsBuffer), this.readBackBuffer);
    if (rc < 0) throw errnoError(rc, 'ioctl', { path: this.path, message: 'TCSETS2 (line settings)' });
    this.appliedSettings = decodeSettings(this.readBackBuffer);
  }

  // ---------------------------------------------------------------------------------------------- readiness

  private readonly onReady = (ev: ReadyEvent): void => {
    if (ev.readable || ev.hangup || ev.error || ev.readHangup) this.readReady = true;
    if (ev.writable) this.writeReady = true;
    if (this.queue.length > 0 && this.writeReady) this.flushQueue();
    if (this.descriptor < 0) return;
    if (this.wantRead && this.readReady) {
      this.readSome(false);
    } else if (ev.hangup || ev.error) {
      // Nobody is reading right now, but the device is gone: take what the kernel still holds (bounded by the
      // tty's buffer) so nothing is lost, then report the disconnect.
      this.readSome(true);
    }
  };

  /** @internal Node stream machinery. */
  override _read(): void {
    this.wantRead = true;
    if (this.descriptor >= 0 && this.readReady) this.readSome(false);
  }

  /** Read until the kernel has nothing more, the consumer is full, or the device is gone. */
  private readSome(ignoreBackpressure: boolean): void {
    const buf = this.readBuffer;
    while (this.descriptor >= 0) {
      const n = this.native.read(this.descriptor, buf, 0, buf.byteLength);
      if (n > 0) {
        const chunk = Buffer.allocUnsafe(n);
        buf.copy(chunk, 0, 0, n);
        // A short read emptied the tty's queue: the next byte to arrive wakes us again (edge-triggered).
        if (n < buf.byteLength) this.readReady = false;
        if (!this.push(chunk) && !ignoreBackpressure) {
          this.wantRead = false;
          return;
        }
        if (!this.readReady && !ignoreBackpressure) return;
        continue;
      }
      if (n === EAGAIN) {
        this.readReady = false;
        if (ignoreBackpressure) break;
        return;
      }
      if (n === 0) {
        this.lost({ reason: 'HUP' });
        return;
      }
      const error = errnoError(n, 'read', { path: this.path });
      this.lost(n === EIO ? { reason: 'EIO', error } : { reason: 'error', error });
      return;
    }
    if (ignoreBackpressure && this.descriptor >= 0) this.lost({ reason: 'HUP' });
  }

  // ---------------------------------------------------------------------------------------------- writing

  /** @internal Node stream machinery. */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.enqueue(chunk, callback);
  }

  /** @internal Node stream machinery. */
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.enqueue(chunks.length === 1 ? (chunks[0] as { chunk: Buffer }).chunk : Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  private enqueue(data: Uint8Array, callback: (error?: Error | null) => void): void {
    if (this.userClosed) {
      callback(new ClosedError(`serial port ${this.path}`, 'write'));
      return;
    }
    if (data.byteLength === 0 && this.queue.length === 0) {
      callback();
      return;
    }
    this.queue.push({ data, offset: 0, callback });
    if (this.descriptor >= 0 && this.writeReady && this.queue.length === 1) this.flushQueue();
  }

  private flushQueue(): void {
    while (this.descriptor >= 0 && this.queue.length > 0) {
      const w = this.queue[0] as PendingWrite;
      const left = w.data.byteLength - w.offset;
      const n = left === 0 ? 0 : this.native.write(this.descriptor, w.data, w.offset, left);
      if (n >= 0) {
        w.offset += n;
        if (w.offset === w.data.byteLength) {
          this.queue.shift();
          w.callback();
          continue;
        }
        // A partial write means the tty's buffer is full; it becomes writable again later (edge-triggered).
        this.writeReady = false;
        return;
      }
      if (n === EAGAIN) {
        this.writeReady = false;
        return;
      }
      const error = errnoError(n, 'write', { path: this.path });
      this.lost(n === EIO ? { reason: 'EIO', error } : { reason: 'error', error });
      return;
    }
  }

  /**
   * Write to the port (the Node `Writable.write` contract: returns `false` when the caller should wait for
   * `'drain'`).
   * @throws ClosedError (`ERR_FDLOOP_CLOSED`) after {@link SerialPort.close}, or once the device was lost and
   *   no reconnect is pending: a write that cannot happen is never silently dropped.
   */
  override write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    if (this.userClosed || this.destroyed || (this.disconnectReason !== undefined && this.reconnectTimer === undefined)) {
      throw new ClosedError(`serial port ${this.path}`, 'write', this.disconnectReason?.error ? { cause: this.disconnectReason.error } : undefined);
    }
    return super.write(chunk, encoding as BufferEncoding, callback);
  }

  /** @internal Node stream machinery. */
  override _final(callback: (error?: Error | null) => void): void {
    this.enqueue(Buffer.alloc(0), callback);
  }

  // ---------------------------------------------------------------------------------------------- device lost

  private lost(info: DisconnectInfo): void {
    if (this.descriptor < 0) return;
    this.detach();
    this.disconnectReason = info;
    this.emit('disconnect', info);
    if (this.reconnectOptions !== undefined && !this.userClosed) {
      this.reconnectAttempts = 0;
      this.scheduleReconnect();
      return;
    }
    this.finishLost();
  }

  /** No reconnect: end the readable side after the data already received, and fail writes still queued. */
  private finishLost(): void {
    const cause = this.disconnectReason?.error;
    for (const w of this.queue.splice(0)) {
      w.callback(cause ?? new ClosedError(`serial port ${this.path}`, 'write'));
    }
    this.push(null);
    if (!this.writableEnded) this.end();
  }

  private detach(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.descriptor >= 0) {
      // The device is already gone or being closed on purpose; a close error cannot be acted upon.
      this.native.close(this.descriptor);
      this.descriptor = -1;
    }
  }

  private scheduleReconnect(): void {
    const policy = this.reconnectOptions as { interval: number; maxAttempts: number };
    this.reconnectTimer = this.runtime.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.userClosed || this.destroyed) return;
      this.reconnectAttempts++;
      try {
        this.attach();
      } catch (error) {
        if (this.reconnectAttempts >= policy.maxAttempts) {
          this.emit('reconnectFailed', error);
          this.finishLost();
          return;
        }
        this.scheduleReconnect();
        return;
      }
      this.disconnectReason = undefined;
      this.emit('reconnect');
      if (this.queue.length > 0) this.flushQueue();
      if (this.wantRead) this.readSome(false);
    }, policy.interval);
    if (!this.refd) this.reconnectTimer.unref();
  }

  // ---------------------------------------------------------------------------------------------- control

  private requireOpen(operation: string): number {
    if (this.descriptor < 0) throw new ClosedError(`serial port ${this.path}`, operation, this.disconnectReason?.error ? { cause: this.disconnectReason.error } : undefined);
    return this.descriptor;
  }

  private check(rc: number, syscall: string, what: string): number {
    if (rc < 0) throw errnoError(rc, syscall, { path: this.path, message: what });
    return rc;
  }

  /**
   * Change line settings on the open port, typically the baud rate. By default it first waits until everything
   * written so far has left the device ({@link SerialPort.drain}), so bytes already sent are not garbled by the
   * new rate.
   * @param settings - the fields to change; the others keep their values.
   * @param options - `drain: false` applies the change at once. Defaults to `{ drain: true }`.
   * @returns the settings read back from the kernel.
   * @throws InvalidArgumentError for a bad field; ErrnoError from `TCSETS2`; ClosedError after close.
   *
   * @example
   * ```ts
   * await port.update({ baudRate: 115200 });
   * ```
   */
  async update(settings: Partial<LineSettings>, options: { readonly drain?: boolean } = {}): Promise<LineSettings> {
    const next = resolveSettings(this.currentSettings, settings);
    if (options.drain ?? true) await this.drain();
    const fd = this.requireOpen('update');
    this.configure(fd, next);
    this.currentSettings = next;
    return this.appliedSettings;
  }

  /**
   * Resolve once everything written so far was accepted by the kernel *and* has left the driver's output queue
   * (`TIOCOUTQ` reaches 0). The loop is never blocked (`tcdrain(3)` would block the thread): the output queue
   * is polled with runtime timers spaced by the time its bytes take at the current baud rate.
   * @throws ClosedError if the port closes first.
   */
  async drain(): Promise<void> {
    if (this.userClosed || this.destroyed) throw new ClosedError(`serial port ${this.path}`, 'drain');
    if (!this.writableFinished) {
      await new Promise<void>((resolve, reject) => {
        const done = (error?: Error | null): void => (error ? reject(error) : resolve());
        if (this.writableEnded) {
          this.once('finish', () => done());
          this.once('close', () => done(new ClosedError(`serial port ${this.path}`, 'drain')));
        } else {
          super.write(Buffer.alloc(0), done);
        }
      });
    }
    for (;;) {
      const fd = this.requireOpen('drain');
      const queued = this.check(this.native.outq(fd), 'ioctl', 'TIOCOUTQ');
      if (queued === 0) return;
      const bitsPerChar = 1 + this.appliedSettings.dataBits + this.appliedSettings.stopBits + (this.appliedSettings.parity === 'none' ? 0 : 1);
      const ms = Math.min(100, Math.max(1, Math.ceil((queued * bitsPerChar * 1000) / this.appliedSettings.baudRate)));
      await this.sleep(ms);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = this.runtime.setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      // On close the timer is cancelled and the sleeper woken, so drain() and sendBreak() settle.
      this.timers.set(t, resolve);
    });
  }

  /**
   * Discard data in the kernel's queues (`tcflush`): `'input'` received but not read, `'output'` written but not
   * sent, or `'both'`. Data still queued inside this stream is not affected.
   * @param queue - which queue. Defaults to `'both'`.
   */
  flush(queue: FlushQueue = 'both'): void {
    const c = this.native.constants;
    const codes: Record<FlushQueue, number> = { input: c.TCIFLUSH, output: c.TCOFLUSH, both: c.TCIOFLUSH };
    if (!Object.hasOwn(codes, queue)) throw new InvalidArgumentError('queue', `must be 'input', 'output' or 'both', got ${describeReceived(queue)}`);
    this.check(this.native.flush(this.requireOpen('flush'), codes[queue]), 'tcflush', 'TCFLSH');
  }

  /**
   * Send a break: hold the line in the spacing state for `duration` milliseconds (`TIOCSBRK`, a runtime timer,
   * `TIOCCBRK`), without blocking the loop. Drivers without break support (ptys) accept and ignore it.
   * @param duration - milliseconds. Defaults to `250`, as `tcsendbreak(fd, 0)`.
   */
  async sendBreak(duration = 250): Promise<void> {
    const ms = integerOption('duration', duration, 250, 0, 60_000);
    this.setBreak(true);
    try {
      await this.sleep(ms);
    } finally {
      if (this.descriptor >= 0) this.setBreak(false);
    }
  }

  /** Switch the break condition on or off (`TIOCSBRK` / `TIOCCBRK`). */
  setBreak(on: boolean): void {
    if (typeof on !== 'boolean') throw new InvalidArgumentError('on', 'must be a boolean');
    this.check(this.native.setBreak(this.requireOpen('setBreak'), on), 'ioctl', on ? 'TIOCSBRK' : 'TIOCCBRK');
  }

  /**
   * Read the modem lines (`TIOCMGET`).
   * @throws ErrnoError `ENOTTY` (`syscall: 'ioctl'`) when the device has no modem lines, as ptys and some USB
   *   adapters.
   */
  getModemLines(): ModemLines {
    const fd = this.requireOpen('getModemLines');
    const bits = this.check(this.native.modemGet(fd), 'ioctl', 'TIOCMGET: the device has no modem lines');
    const c = this.native.constants;
    return {
      dtr: (bits & c.TIOCM_DTR) !== 0,
      rts: (bits & c.TIOCM_RTS) !== 0,
      cts: (bits & c.TIOCM_CTS) !== 0,
      dsr: (bits & c.TIOCM_DSR) !== 0,
      dcd: (bits & c.TIOCM_CD) !== 0,
      ri: (bits & c.TIOCM_RI) !== 0,
    };
  }

  /**
   * Set or clear the output modem lines DTR and RTS (`TIOCMBIS` / `TIOCMBIC`); lines not given are left alone.
   * @throws ErrnoError `ENOTTY` when the device has no modem lines (ptys).
   *
   * @example
   * ```ts
   * port.setModemLines({ dtr: false }); // reset an Arduino: pulse DTR
   * port.setModemLines({ dtr: true });
   * ```
   */
  setModemLines(lines: { readonly dtr?: boolean; readonly rts?: boolean }): void {
    if (typeof lines !== 'object' || lines === null) throw new InvalidArgumentError('lines', 'must be an object { dtr?, rts? }');
    const c = this.native.constants;
    let set = 0;
    let clear = 0;
    for (const [name, bit] of [['dtr', c.TIOCM_DTR], ['rts', c.TIOCM_RTS]] as const) {
      const v = lines[name];
      if (v === undefined) continue;
      if (typeof v !== 'boolean') throw new InvalidArgumentError(`lines.${name}`, 'must be a boolean');
      if (v) set |= bit;
      else clear |= bit;
    }
    const fd = this.requireOpen('setModemLines');
    this.check(this.native.modemSet(fd, set, clear), 'ioctl', 'TIOCMBIS/TIOCMBIC: the device has no modem lines');
  }

  /** Bytes received by the kernel and not yet read (`TIOCINQ`). */
  inputQueueLength(): number {
    return this.check(this.native.inq(this.requireOpen('inputQueueLength')), 'ioctl', 'TIOCINQ');
  }

  /** Bytes accepted by the kernel and not yet sent (`TIOCOUTQ`). */
  outputQueueLength(): number {
    return this.check(this.native.outq(this.requireOpen('outputQueueLength')), 'ioctl', 'TIOCOUTQ');
  }

  /**
   * Read the RS-485 settings (`TIOCGRS485`).
   * @throws ErrnoError `ENOTTY` where the driver has no RS-485 support (ptys, most USB adapters).
   */
  getRs485(): Required<Rs485Settings> {
    const out = new Int32Array(3);
    this.check(this.native.rs485Get(this.requireOpen('getRs485'), out), 'ioctl', 'TIOCGRS485: the driver has no RS-485 support');
    const c = this.native.constants;
    const flags = out[0] as number;
    return {
      enabled: (flags & c.SER_RS485_ENABLED) !== 0,
      rtsOnSend: (flags & c.SER_RS485_RTS_ON_SEND) !== 0,
      rtsAfterSend: (flags & c.SER_RS485_RTS_AFTER_SEND) !== 0,
      rxDuringTx: (flags & c.SER_RS485_RX_DURING_TX) !== 0,
      terminateBus: (flags & c.SER_RS485_TERMINATE_BUS) !== 0,
      delayRtsBeforeSend: out[1] as number,
      delayRtsAfterSend: out[2] as number,
    };
  }

  /**
   * Apply RS-485 settings (`TIOCSRS485`).
   * @throws ErrnoError `ENOTTY` where the driver has no RS-485 support; InvalidArgumentError for bad fields.
   */
  setRs485(settings: Rs485Settings): void {
    this.applyRs485(this.requireOpen('setRs485'), validateRs485(settings, 'settings'));
  }

  private applyRs485(fd: number, s: Rs485Settings): void {
    const c = this.native.constants;
    let flags = 0;
    if (s.enabled ?? true) flags |= c.SER_RS485_ENABLED;
    if (s.rtsOnSend ?? true) flags |= c.SER_RS485_RTS_ON_SEND;
    if (s.rtsAfterSend ?? false) flags |= c.SER_RS485_RTS_AFTER_SEND;
    if (s.rxDuringTx ?? false) flags |= c.SER_RS485_RX_DURING_TX;
    if (s.terminateBus ?? false) flags |= c.SER_RS485_TERMINATE_BUS;
    const data = new Int32Array([flags, s.delayRtsBeforeSend ?? 0, s.delayRtsAfterSend ?? 0]);
    this.check(this.native.rs485Set(fd, data), 'ioctl', 'TIOCSRS485: the driver has no RS-485 support');
  }

  // ---------------------------------------------------------------------------------------------- iteration and lifetime

  /**
   * The received chunks as an async iterator. Unlike `for await (const c of port)`, leaving the loop early
   * (`break`, or `signal`) does not destroy the port, and {@link SerialPort.close} during the loop simply ends
   * it. Backpressure holds: nothing more is read from the device while the loop body runs.
   * @param options - `signal` ends the iteration when aborted.
   *
   * @example
   * ```ts
   * for await (const chunk of port.chunks({ signal: AbortSignal.timeout(5000) })) handle(chunk);
   * ```
   */
  async *chunks(options: { readonly signal?: AbortSignal } = {}): AsyncGenerator<Buffer, void, undefined> {
    const { signal } = options;
    if (signal?.aborted) return;
    const it = this.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let onAbort: (() => void) | undefined;
    const aborted = signal === undefined ? undefined : new Promise<IteratorResult<Buffer>>((resolve) => {
      onAbort = () => resolve({ done: true, value: undefined });
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      for (;;) {
        const next = it.next();
        let r: IteratorResult<Buffer>;
        try {
          r = aborted === undefined ? await next : await Promise.race([next, aborted]);
        } catch (error) {
          // close() while the loop waits ends the loop, as the end of the data would.
          if (this.userClosed && (error as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
          throw error;
        }
        if (r.done) return;
        yield r.value;
      }
    } finally {
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
      await it.return?.();
    }
  }

  /** Keep the runtime (and Node) alive while the port is open (the default). Returns the port. */
  ref(): this {
    this.refd = true;
    this.watcher?.ref();
    this.reconnectTimer?.ref();
    return this;
  }

  /** Do not keep the runtime or Node alive for this port. Returns the port. */
  unref(): this {
    this.refd = false;
    this.watcher?.unref();
    this.reconnectTimer?.unref();
    return this;
  }

  /**
   * Close the port at once: stop watching, close the descriptor (releasing the exclusive lock), cancel a pending
   * reconnect. Writes still queued fail with {@link ClosedError}; to send them first, `await port.drain()` (or
   * `end()` and wait for `'finish'`) before closing. Later calls of `write()` throw {@link ClosedError}.
   * Idempotent.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.once('close', () => resolve());
      this.userClosed = true;
      this.destroy();
    });
  }

  /** @internal Node stream machinery. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.userClosed = true;
    this.reconnectTimer?.cancel();
    this.reconnectTimer = undefined;
    for (const [t, wake] of this.timers) {
      t.cancel();
      wake();
    }
    this.timers.clear();
    this.detach();
    for (const w of this.queue.splice(0)) w.callback(new ClosedError(`serial port ${this.path}`, 'write'));
    callback(error);
  }

  /** `await using port = open(…)` closes the port. */
  override async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function validateRs485(value: unknown, name: string): Rs485Settings {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(name, 'must be an object');
  const v = value as Record<string, unknown>;
  for (const key of ['enabled', 'rtsOnSend', 'rtsAfterSend', 'rxDuringTx', 'terminateBus']) {
    if (v[key] !== undefined && typeof v[key] !== 'boolean') throw new InvalidArgumentError(`${name}.${key}`, 'must be a boolean');
  }
  for (const key of ['delayRtsBeforeSend', 'delayRtsAfterSend']) integerOption(`${name}.${key}`, v[key], 0, 0, 100_000);
  return v as Rs485Settings;
}
