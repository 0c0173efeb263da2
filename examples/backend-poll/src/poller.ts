/**
 * The {@link Poller} of the poll backend: a thin layer over the native poller that validates arguments, refuses
 * what poll(2) cannot do, and throws {@link ErrnoError}s.
 *
 * @module
 */

import { constants } from 'node:os';
import {
  Interest,
  InvalidArgumentError,
  describeReceived,
  UnsupportedError,
  errnoError,
  validateFd,
  type InterestFlags,
  type Poller,
  type PollerOptions,
} from '@fdloop/core';
import { isNativeErrnoError, type NativeBinding, type NativePoller } from './native.js';

/** The largest batch the native poller accepts (a 16 MiB buffer). */
export const MAX_BATCH_SIZE = 1 << 20;

/**
 * The name registration failures carry in `syscall`. poll(2) has no control call; this names the backend's
 * registration step after epoll's `epoll_ctl`, as Node names some failures after libuv operations.
 */
export const CTL_SYSCALL = 'poll_ctl';

// Every Interest bit of the contract: READABLE | WRITABLE | PRIORITY | EDGE | ONESHOT.
const ALL_INTEREST_BITS = 31;

function validateToken(token: unknown): number {
  if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 0) {
    throw new InvalidArgumentError('token', `must be a non-negative safe integer, got ${describeReceived(token)}`);
  }
  return token;
}

/** The condition bits of `interest`; the mode bits are refused, since poll(2) has neither mode. */
function conditionBits(interest: unknown): number {
  if (typeof interest !== 'number' || !Number.isInteger(interest) || interest < 0 || (interest & ~ALL_INTEREST_BITS) !== 0) {
    throw new InvalidArgumentError('interest', `must be a combination of Interest bits, got ${describeReceived(interest)}`);
  }
  if (interest & Interest.EDGE) {
    throw new UnsupportedError('poll', 'edge-triggered interest (Interest.EDGE)', 'poll(2) is level-triggered only');
  }
  if (interest & Interest.ONESHOT) {
    throw new UnsupportedError(
      'poll',
      'one-shot interest (Interest.ONESHOT)',
      'the runtime emulates it; pass it to Runtime.watch(), not to the poller',
    );
  }
  return interest;
}

/** A poller backed by one thread blocked in poll(2), delivering on the creating thread's libuv loop. */
export class PollPoller implements Poller {
  readonly events: Float64Array;
  readonly #native: NativePoller;
  #closed = false;

  constructor(binding: NativeBinding, options: PollerOptions, threadName: string) {
    const { batchSize, sink } = options;
    if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
      throw new InvalidArgumentError('batchSize', `must be an integer from 1 to ${MAX_BATCH_SIZE}, got ${describeReceived(batchSize)}`);
    }
    if (typeof sink?.onEvents !== 'function') {
      throw new InvalidArgumentError('sink', 'must be an object with an onEvents(count) method');
    }
    try {
      // The sink is called through a closure so `this` inside onEvents is the sink.
      this.#native = new binding.Poller(batchSize, (count) => sink.onEvents(count), threadName);
    } catch (error) {
      if (isNativeErrnoError(error)) throw errnoError(error.errno, error.syscall);
      throw error;
    }
    this.events = this.#native.events;
  }

  register(fd: number, token: number, interest: InterestFlags): void {
    this.#ctl(this.#native.add(validateFd(fd), validateToken(token), conditionBits(interest)), fd);
  }

  reregister(fd: number, token: number, interest: InterestFlags): void {
    this.#ctl(this.#native.mod(validateFd(fd), validateToken(token), conditionBits(interest)), fd);
  }

  deregister(fd: number): void {
    this.#ctl(this.#native.del(validateFd(fd)), fd);
  }

  ref(): void {
    this.#native.ref();
  }

  unref(): void {
    this.#native.unref();
  }

  close(): void {
    this.#closed = true;
    this.#native.close();
  }

  #ctl(rc: number, fd: number): void {
    if (rc === 0) return;
    // A closed poller reports EBADF; say so, or it reads as if `fd` were bad.
    const message = this.#closed && rc === -constants.errno.EBADF ? 'the poller is closed' : undefined;
    throw errnoError(rc, CTL_SYSCALL, message === undefined ? { fd } : { fd, message });
  }
}
