/**
 * The TypeScript side of a poller implemented by a native addon: the part every such backend (epoll, kqueue,
 * IOCP, the `poll(2)` example) shares. The addon's poller object returns `0` or a failure code from its
 * registration calls and throws only from its constructor; {@link NativePoller} validates arguments first, turns
 * failure codes into typed errors, and says "the poller is closed" when a closed poller is used.
 *
 * @module
 */

import { constants } from 'node:os';
import type { InterestFlags, Poller, PollerOptions, PollerSink } from '../contract/index.js';
import { ErrnoError, InvalidArgumentError, describeReceived, errnoError } from '../errors.js';
import { validateFd } from '../runtime.js';

/** The largest batch a native poller accepts unless its backend says otherwise: 2^20 pairs, a 16 MiB buffer. */
export const MAX_BATCH_SIZE = 1 << 20;

// Every Interest bit of the contract: READABLE | WRITABLE | PRIORITY | EDGE | ONESHOT.
const ALL_INTEREST_BITS = 31;
const EBADF = -constants.errno.EBADF;

/**
 * What a native poller object offers (the addon's `Poller` class, built on native-build's `PollerWrap` or on a
 * design of its own). Registration calls return `0` or a failure code (`-errno` on POSIX).
 */
export interface NativePollerHandle {
  /** `2 * batchSize` doubles of `(token, flags)` pairs, valid inside `onEvents`. */
  readonly events: Float64Array;
  /** Register `fd`. Returns 0 or a failure code. */
  add(fd: number, token: number, interest: number): number;
  /** Change the token and interest of a registered `fd` (re-arms ONESHOT). Returns 0 or a failure code. */
  mod(fd: number, token: number, interest: number): number;
  /** Remove `fd`. Returns 0 or a failure code. */
  del(fd: number): number;
  /** Keep the event loop alive. */
  ref(): void;
  /** Let the event loop exit. The initial state. */
  unref(): void;
  /** Stop delivering and release the kernel objects. Idempotent. */
  close(): void;
}

/** How a backend configures {@link NativePoller}. */
export interface NativePollerConfig<N extends NativePollerHandle> {
  /**
   * Create the native poller. Call `onEvents(count)` once per batch (it forwards to the runtime's sink, see
   * {@link NativePoller.batchCallback}). A constructor error carrying a numeric `errno` and a string `syscall` is
   * turned into an {@link ErrnoError} (see {@link NativePollerConfig.createError}).
   */
  create(batchSize: number, onEvents: (count: number) => void): N;
  /** The `syscall` that errors of `register`, `reregister` and `deregister` name (`'epoll_ctl'`, `'kevent'`…). */
  readonly ctlSyscall: string;
  /** The largest `batchSize` accepted. Defaults to {@link MAX_BATCH_SIZE}. */
  readonly maxBatchSize?: number;
  /**
   * Check an interest and return what to pass to the native calls. Defaults to {@link validateInterestBits}; a
   * backend refuses here what its kernel cannot do (with an `UnsupportedError` naming itself).
   */
  interest?(interest: unknown): number;
  /**
   * The error for a non-zero result `rc` of a registration call on `fd`; `closed` says whether {@link
   * NativePoller.close} was called. Defaults to {@link errnoCtlError} with {@link NativePollerConfig.ctlSyscall}.
   */
  ctlError?(rc: number, fd: number, closed: boolean): Error;
  /**
   * The error to throw for an error thrown by {@link NativePollerConfig.create}. Defaults to an
   * {@link ErrnoError} for a system-call failure (`errno`, `syscall`), anything else unchanged.
   */
  createError?(error: unknown): unknown;
}

/**
 * Validate a token: a non-negative safe integer (the runtime's `generation * 2^22 + slot`).
 * @throws InvalidArgumentError
 *
 * @example
 * ```ts
 * native.add(validateFd(fd), validateToken(token), validateInterestBits(interest));
 * ```
 */
export function validateToken(token: unknown): number {
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 0) {
    throw new InvalidArgumentError('token', `must be a non-negative safe integer, got ${describeReceived(token)}`);
  }
  return token;
}

/**
 * Validate interest bits as a poller receives them: any combination of the contract's bits (the runtime has
 * already refused an empty interest).
 * @throws InvalidArgumentError
 */
export function validateInterestBits(interest: unknown): number {
  if (typeof interest !== 'number' || !Number.isInteger(interest) || interest < 0 || (interest & ~ALL_INTEREST_BITS) !== 0) {
    throw new InvalidArgumentError('interest', `must be a combination of Interest bits, got ${describeReceived(interest)}`);
  }
  return interest;
}

/**
 * Validate an integer option or argument in `[min, max]`.
 * @param name the option's name, for the error.
 * @throws InvalidArgumentError naming `name` and the range.
 *
 * @example
 * ```ts
 * const maxRounds = validateInteger('maxRounds', options?.maxRounds ?? 64, 1, 1024);
 * ```
 */
export function validateInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}, got ${describeReceived(value)}`);
  }
  return value;
}

/**
 * The default {@link NativePollerConfig.ctlError}: an {@link ErrnoError} for `rc = -errno` naming `syscall` and
 * `fd`, whose message says "the poller is closed" for `EBADF` after close (the poller's own descriptor is closed
 * then, and the plain message would read as if `fd` were bad).
 */
export function errnoCtlError(rc: number, syscall: string, fd: number, closed: boolean): ErrnoError {
  const message = closed && rc === EBADF ? 'the poller is closed' : undefined;
  return errnoError(rc, syscall, message === undefined ? { fd } : { fd, message });
}

function defaultCreateError(error: unknown): unknown {
  if (error instanceof Error) {
    const { errno, syscall } = error as Error & { errno?: unknown; syscall?: unknown };
    if (typeof errno === 'number' && typeof syscall === 'string') return errnoError(errno, syscall);
  }
  return error;
}

/**
 * A {@link Poller} over a native poller object: validates `batchSize`, `sink`, descriptors, tokens and interests,
 * and throws typed errors for failure codes. A backend creates it in `createPoller` with its own
 * {@link NativePollerConfig}, or extends it with backend-specific members (event sources, completion I/O).
 *
 * @example
 * ```ts
 * import type { Backend } from '@fdloop/core';
 * import { NativePoller } from '@fdloop/core/backend-kit';
 *
 * const backend: Backend = {
 *   name: 'mine',
 *   capabilities,
 *   createPoller: (options) =>
 *     new NativePoller(options, {
 *       ctlSyscall: 'mine_ctl',
 *       create: (batchSize, onEvents) => new binding.Poller(batchSize, onEvents),
 *     }),
 * };
 * ```
 */
export class NativePoller<N extends NativePollerHandle = NativePollerHandle> implements Poller {
  /** The native poller's `(token, flags)` pairs, valid inside the sink's `onEvents`. */
  readonly events: Float64Array;
  /** The native poller object. */
  protected readonly native: N;
  readonly #ctlSyscall: string;
  readonly #interest: (interest: unknown) => number;
  readonly #ctlError: ((rc: number, fd: number, closed: boolean) => Error) | undefined;
  #closed = false;

  /**
   * @param options the batch size and the sink, as the runtime passes them to `createPoller`.
   * @param config how to create and drive the native poller.
   * @throws InvalidArgumentError for a bad `batchSize` or `sink`; what `config.create` throws (see
   *   {@link NativePollerConfig.createError}).
   */
  constructor(options: PollerOptions, config: NativePollerConfig<N>) {
    const { batchSize, sink } = options;
    const max = config.maxBatchSize ?? MAX_BATCH_SIZE;
    if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > max) {
      throw new InvalidArgumentError('batchSize', `must be an integer from 1 to ${max}, got ${describeReceived(batchSize)}`);
    }
    if (typeof sink?.onEvents !== 'function') {
      throw new InvalidArgumentError('sink', 'must be an object with an onEvents(count) method');
    }
    this.#ctlSyscall = config.ctlSyscall;
    this.#interest = config.interest ?? validateInterestBits;
    this.#ctlError = config.ctlError;
    try {
      this.native = config.create(batchSize, this.batchCallback(sink));
    } catch (error) {
      throw (config.createError ?? defaultCreateError)(error);
    }
    this.events = this.native.events;
  }

  register(fd: number, token: number, interest: InterestFlags): void {
    this.#ctl(this.native.add(validateFd(fd), validateToken(token), this.#interest(interest)), fd);
  }

  reregister(fd: number, token: number, interest: InterestFlags): void {
    this.#ctl(this.native.mod(validateFd(fd), validateToken(token), this.#interest(interest)), fd);
  }

  deregister(fd: number): void {
    this.#ctl(this.native.del(validateFd(fd)), fd);
  }

  ref(): void {
    this.native.ref();
  }

  unref(): void {
    this.native.unref();
  }

  close(): void {
    this.#closed = true;
    this.native.close();
  }

  /** Whether {@link NativePoller.close} has been called. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /**
   * The function the native poller calls once per batch. By default it calls `sink.onEvents(count)` (through a
   * closure, so `this` inside `onEvents` is the sink, as the contract's users expect); a backend that rewrites
   * batches before the runtime sees them (IOCP: completion results, source packets) overrides it. Called once,
   * from the constructor, before the subclass's fields exist: the returned function may use them, the call may not.
   */
  protected batchCallback(sink: PollerSink): (count: number) => void {
    return (count) => sink.onEvents(count);
  }

  #ctl(rc: number, fd: number): void {
    if (rc === 0) return;
    throw this.#ctlError === undefined ? errnoCtlError(rc, this.#ctlSyscall, fd, this.#closed) : this.#ctlError(rc, fd, this.#closed);
  }
}
