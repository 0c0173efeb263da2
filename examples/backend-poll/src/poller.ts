/**
 * The {@link Poller} of the poll backend: `@fdloop/core`'s {@link NativePoller} (argument checks, `-errno` results
 * turned into `ErrnoError`s) over the native poller, refusing what poll(2) cannot do.
 *
 * @module
 */

import { Interest, UnsupportedError, type Poller, type PollerOptions } from '@fdloop/core';
import { NativePoller, validateInterestBits } from '@fdloop/core/backend-kit';
import type { NativeBinding } from './native.js';

/**
 * The name registration failures carry in `syscall`. poll(2) has no control call; this names the backend's
 * registration step after epoll's `epoll_ctl`, as Node names some failures after libuv operations.
 */
export const CTL_SYSCALL = 'poll_ctl';

/** The condition bits of `interest`; the mode bits are refused, since poll(2) has neither mode. */
function conditionBits(interest: unknown): number {
  const bits = validateInterestBits(interest);
  if (bits & Interest.EDGE) {
    throw new UnsupportedError('poll', 'edge-triggered interest (Interest.EDGE)', 'poll(2) is level-triggered only');
  }
  if (bits & Interest.ONESHOT) {
    throw new UnsupportedError(
      'poll',
      'one-shot interest (Interest.ONESHOT)',
      'the runtime emulates it; pass it to Runtime.watch(), not to the poller',
    );
  }
  return bits;
}

/** A poller backed by one thread blocked in poll(2), delivering on the creating thread's libuv loop. */
export function createPollPoller(binding: NativeBinding, options: PollerOptions, threadName: string): Poller {
  return new NativePoller(options, {
    ctlSyscall: CTL_SYSCALL,
    create: (batchSize, onEvents) => new binding.Poller(batchSize, onEvents, threadName),
    interest: conditionBits,
  });
}
