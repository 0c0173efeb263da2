/**
 * The {@link Poller} of the kqueue backend: `@fdloop/core`'s {@link NativePoller} over the native kqueue poller,
 * plus the event sources (`addSource`).
 *
 * @module
 */

import {
  Interest,
  InvalidArgumentError,
  describeReceived,
  UnsupportedError,
  type Poller,
  type PollerOptions,
  type SourceHandles,
  type SourceKind,
  type SourceSpecs,
} from '@fdloop/core';
import { NativePoller, validateToken } from '@fdloop/core/backend-kit';
import type { NativeBinding, NativeKqueuePoller } from './native.js';
import { addSource, type SourceContext } from './sources.js';

/** The largest batch the native poller accepts (a 16 MiB buffer). */
export { MAX_BATCH_SIZE } from '@fdloop/core/backend-kit';

/** The largest `maxRounds` the native poller accepts. */
export const MAX_ROUNDS = 1024;

// Every Interest bit of the contract: READABLE | WRITABLE | PRIORITY | EDGE | ONESHOT.
const ALL_INTEREST_BITS = 31;
const CONDITIONS = Interest.READABLE | Interest.WRITABLE | Interest.PRIORITY;

/** The interest as the native poller takes it: at least one condition (a knote needs a filter), PRIORITY only where reported. */
function kqueueInterest(interest: unknown, priority: boolean): number {
  if (
    typeof interest !== 'number' ||
    !Number.isInteger(interest) ||
    interest < 0 ||
    (interest & ~ALL_INTEREST_BITS) !== 0 ||
    (interest & CONDITIONS) === 0
  ) {
    throw new InvalidArgumentError('interest', `must be a combination of Interest bits with a condition, got ${describeReceived(interest)}`);
  }
  if ((interest & Interest.PRIORITY) !== 0 && !priority) {
    throw new UnsupportedError('kqueue', 'priority', 'this platform\'s kqueue does not report out-of-band data');
  }
  return interest;
}

/** A poller backed by one kqueue, integrated with the creating thread's libuv loop. */
export class KqueuePoller extends NativePoller<NativeKqueuePoller> implements Poller {
  readonly #sources: SourceContext;

  constructor(binding: NativeBinding, options: PollerOptions, maxRounds: number) {
    super(options, {
      ctlSyscall: 'kevent',
      create: (batchSize, onEvents) => new binding.Poller(batchSize, onEvents, maxRounds),
      interest: (interest) => kqueueInterest(interest, binding.priority),
    });
    let ident = 0;
    this.#sources = { binding, native: this.native, nextIdent: () => ++ident };
  }

  addSource<K extends SourceKind>(spec: SourceSpecs[K], token: number): SourceHandles[K] {
    return addSource(this.#sources, spec, validateToken(token));
  }
}
