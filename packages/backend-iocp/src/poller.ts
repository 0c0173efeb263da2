/**
 * The {@link Poller} of the IOCP backend: readiness for sockets through the AFD poll ioctl, and the completion
 * layer (overlapped `ReadFile`/`WriteFile` with `CancelIoEx`) for files and pipes, both delivered through one
 * completion port and one batch buffer.
 *
 * @module
 */

import {
  InvalidArgumentError,
  describeReceived,
  Ready,
  UnsupportedError,
  validateFd,
  type NotifierSourceSpec,
  type Poller,
  type PollerOptions,
  type PollerSink,
  type SourceHandles,
  type SourceKind,
  type SourceSpecs,
  type TimerSourceSpec,
  type ProcessExitSourceSpec,
} from '@fdloop/core';
import { NativePoller, validateToken } from '@fdloop/core/backend-kit';
import { errnoOf, winError, winErrorName } from './errors.js';
import { isNativeWinError, loadNative, type NativeIocpPoller, type NativePollerStats } from './native.js';
import { IocpNotifier, IocpPathWatch, IocpProcessExit, IocpTimer, checkTimerSpec, type PacketSource } from './sources.js';

/** The largest batch the poller accepts. */
export { MAX_BATCH_SIZE } from '@fdloop/core/backend-kit';

const ERROR_NOT_FOUND = 1168;
const ERROR_INVALID_HANDLE = 6;
const ERROR_ALREADY_EXISTS = 183;
// Source packets carry value + 2^32 (see native/poller.cc).
const SOURCE_TAG = 2 ** 32;

function validateBuffer(buffer: unknown): Uint8Array {
  if (!(buffer instanceof Uint8Array)) {
    throw new InvalidArgumentError('buffer', `must be a Uint8Array or Buffer, got ${describeReceived(buffer)}`);
  }
  return buffer;
}

function validatePosition(position: unknown): number {
  if (position === undefined) return 0;
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) {
    throw new InvalidArgumentError('position', `must be a non-negative safe integer, got ${describeReceived(position)}`);
  }
  return position;
}

/**
 * A poller backed by one I/O completion port. A poller thread blocks in `GetQueuedCompletionStatusEx` and hands
 * each harvested batch to the creating thread through a Node-API thread-safe function; the JS thread translates
 * it into `(token, value)` pairs and calls the sink once per batch.
 *
 * Besides the {@link Poller} contract it offers the completion layer: {@link IocpPoller.read},
 * {@link IocpPoller.write} and {@link IocpPoller.cancel}. A completion reports `(token, result)` in the same
 * batches: `result` is the byte count (`0` at end of file) or a negative errno (Node's numbering, as in
 * `ErrnoError.errno`; `ECANCELED` after a cancellation).
 */
export class IocpPoller extends NativePoller<NativeIocpPoller> implements Poller {
  readonly #completions = new Set<number>();
  readonly #sources = new Map<number, PacketSource>();

  /**
   * Usually called by the runtime through {@link iocp}`().createPoller()`.
   * @param options the batch size and the sink that receives each batch.
   * @throws Error if the native addon cannot be loaded (not Windows, or not built).
   */
  constructor(options: PollerOptions) {
    const binding = loadNative();
    super(options, {
      ctlSyscall: 'afd_poll',
      create: (batchSize, onEvents) => new binding.Poller(batchSize, onEvents),
      // Win32 codes, positive from the poller's calls.
      ctlError: (rc, fd, closed) =>
        winError(rc, 'afd_poll', closed && rc === ERROR_INVALID_HANDLE ? { fd, message: 'the poller is closed' } : { fd }),
      createError: (error) => (isNativeWinError(error) ? winError(error.errno, error.syscall) : error),
    });
  }

  /** Every batch is rewritten for the runtime first (completion results, source packets): see `#translate`. */
  protected override batchCallback(sink: PollerSink): (count: number) => void {
    return (count) => this.#deliver(sink, count);
  }

  /** Closes the port and forgets every pending completion; no callback runs after this returns. */
  override close(): void {
    super.close();
    this.#completions.clear();
    this.#sources.clear();
  }

  /**
   * Start an overlapped read of `buffer.length` bytes from `handle` (a file, pipe or serial port opened with
   * `FILE_FLAG_OVERLAPPED`, e.g. by {@link sys.openFile}, {@link sys.pipe} or {@link sys.openSerial}) at
   * `position`. Exactly one
   * `(token, result)` pair follows in a later batch, even after {@link IocpPoller.cancel}. The buffer must not be
   * reused until then: the kernel writes into it. If this throws, nothing follows.
   * @param position the file offset; ignored by pipes and serial ports. Defaults to `0`.
   * @throws ErrnoError `EBADF` for a closed handle, `EINVAL` for a handle opened without
   *   `FILE_FLAG_OVERLAPPED` (it would block the thread), `EEXIST` for a token already in flight.
   */
  read(handle: number, buffer: Uint8Array, token: number, position?: number): void {
    this.#io(false, handle, buffer, token, position);
  }

  /** Start an overlapped write of all of `buffer`; the same rules as {@link IocpPoller.read}. */
  write(handle: number, buffer: Uint8Array, token: number, position?: number): void {
    this.#io(true, handle, buffer, token, position);
  }

  /**
   * Ask the kernel to cancel the operation of `token` (`CancelIoEx`). Its result still arrives: `ECANCELED`, or
   * the byte count if it finished first **or had already moved bytes** (a serial or pipe read cancelled with part
   * of its data in the buffer reports those bytes, so none is lost). The buffer and the `OVERLAPPED` stay owned by the kernel until then.
   * @returns `true` if an operation was in flight, `false` if `token` names none (already delivered).
   */
  cancel(token: number): boolean {
    const rc = this.native.cancel(validateToken(token));
    if (rc === 0) return true;
    if (rc === ERROR_NOT_FOUND) return false;
    throw winError(rc, 'CancelIoEx');
  }

  /**
   * Queue `(token, Ready.READABLE)` through `PostQueuedCompletionStatus`, the mechanism under the notifier
   * source. It arrives in a later batch.
   */
  post(token: number): void {
    const rc = this.native.post(validateToken(token), Ready.READABLE);
    if (rc !== 0) throw winError(rc, 'PostQueuedCompletionStatus');
  }

  /**
   * Create an event source reporting `token` (the contract's `SourcePoller.addSource`): `'timer'` (a thread-pool
   * timer; clocks `'monotonic'` and `'realtime'`), `'notifier'` (a counter fed by completion packets, from
   * this thread or, through its remote description, from any thread of the process) and `'pathWatch'`
   * (`ReadDirectoryChangesW`; directories natively recursive, a file through its directory) and `'processExit'` (a one-shot wait on a
   * process handle; the record's `code` is the exit code, `signo` is always `null`).
   * @throws UnsupportedError for other kinds and for the `'boottime'` clock.
   * @throws ErrnoError `ESRCH` for a process id that names no process.
   */
  addSource<K extends SourceKind>(spec: SourceSpecs[K], token: number): SourceHandles[K] {
    validateToken(token);
    if (this.closed) throw winError(ERROR_INVALID_HANDLE, 'addSource', { message: 'the poller is closed' });
    if (this.#sources.has(token)) throw winError(ERROR_ALREADY_EXISTS, 'addSource');
    const onClose = (): void => {
      this.#sources.delete(token);
    };
    let handle: IocpNotifier | IocpTimer | IocpPathWatch | IocpProcessExit;
    if (spec.kind === 'notifier') {
      handle = new IocpNotifier(this.native, token, spec as NotifierSourceSpec, onClose);
    } else if (spec.kind === 'timer') {
      checkTimerSpec(spec as TimerSourceSpec);
      handle = new IocpTimer(this.native, token, spec as TimerSourceSpec, onClose);
    } else if (spec.kind === 'pathWatch') {
      handle = new IocpPathWatch(this.native, token, onClose);
    } else if (spec.kind === 'processExit') {
      handle = new IocpProcessExit(this.native, token, (spec as ProcessExitSourceSpec).pid, onClose);
    } else {
      throw new UnsupportedError('iocp', spec.kind);
    }
    this.#sources.set(token, handle);
    return handle as unknown as SourceHandles[K];
  }

  /** Bookkeeping counters: registered sockets, AFD handles, operations the kernel owns, I/O in flight. */
  stats(): NativePollerStats {
    return this.native.stats();
  }

  #io(write: boolean, handle: number, buffer: Uint8Array, token: number, position: number | undefined): void {
    const h = validateFd(handle);
    const buf = validateBuffer(buffer);
    const t = validateToken(token);
    const pos = validatePosition(position);
    const rc = this.native[write ? 'write' : 'read'](h, buf, 0, buf.length, pos, t);
    if (rc !== 0) {
      const message = this.closed && rc === ERROR_INVALID_HANDLE ? 'the poller is closed' : undefined;
      throw winError(rc, write ? 'WriteFile' : 'ReadFile', message === undefined ? { fd: h } : { fd: h, message });
    }
    this.#completions.add(t);
  }

  #deliver(sink: PollerSink, count: number): void {
    if (count < 0) {
      sink.onEvents(errnoOf(winErrorName(-count)));
      return;
    }
    if (this.#completions.size > 0 || this.#sources.size > 0) count = this.#translate(count);
    if (count > 0) sink.onEvents(count);
  }

  /**
   * Rewrite a batch in place for the runtime: completion results get Node's errno instead of a Win32 code;
   * source packets become one `READABLE` report per source (or are dropped: paused, stale, closed).
   */
  #translate(count: number): number {
    const events = this.events;
    let out = 0;
    let reported: Set<number> | undefined;
    for (let i = 0; i < count; i++) {
      const token = events[2 * i] as number;
      let value = events[2 * i + 1] as number;
      if (value >= SOURCE_TAG) {
        const source = this.#sources.get(token);
        if (source === undefined || !source.onPacket(value - SOURCE_TAG)) continue;
        reported ??= new Set();
        if (reported.has(token)) continue;
        reported.add(token);
        value = Ready.READABLE;
      } else if (this.#completions.delete(token) && value < 0) {
        value = errnoOf(winErrorName(-value));
      }
      events[2 * out] = token;
      events[2 * out + 1] = value;
      out++;
    }
    return out;
  }
}
