/**
 * Cross-thread notifiers (`rt.notifier()`): eventfd on Linux, `EVFILT_USER` on kqueue, a completion packet on
 * Windows.
 *
 * @module
 */

import type { Backend, NotifierEvent, NotifierOptions, NotifierRecord, NotifierRemote, Notifier } from '../contract/index.js';
import { InvalidArgumentError, describeReceived, UnsupportedError } from '../errors.js';
import { loadBackend } from '../detect.js';
import type { Runtime } from '../runtime.js';
import { SourceBase, validateSourceOptions } from './base.js';

/** A notifier callback: the event and the notifier. */
export type NotifierCallback = (event: NotifierEvent, notifier: Notifier) => void;

function validateCount(count: unknown): number {
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
    throw new InvalidArgumentError('count', `must be a positive safe integer, got ${describeReceived(count)}`);
  }
  return count;
}

/** @internal */
export class NotifierImpl extends SourceBase<'notifier', NotifierRecord, NotifierEvent> implements Notifier {
  readonly semaphore: boolean;

  constructor(rt: Runtime, options: NotifierOptions | undefined, callback: NotifierCallback | undefined) {
    const opts = validateSourceOptions(options) as NotifierOptions;
    const semaphore = opts.semaphore ?? false;
    if (typeof semaphore !== 'boolean') throw new InvalidArgumentError('semaphore', `must be a boolean, got ${describeReceived(semaphore)}`);
    super(rt, { kind: 'notifier', semaphore }, opts, callback as ((ev: NotifierEvent, s: never) => void) | undefined);
    this.semaphore = semaphore;
  }

  get remote(): NotifierRemote {
    return this.handle.remote;
  }

  notify(count = 1): void {
    validateCount(count);
    if (this.closed) throw new InvalidArgumentError('notifier', 'is closed');
    this.handle.notify(count);
  }

  protected decode(records: NotifierRecord[]): NotifierEvent[] {
    return records.map((r) => ({ count: r.count }));
  }
}

/**
 * Trigger a notifier from any thread — typically a worker thread that received {@link Notifier.remote} through
 * `postMessage`. The backend is found by the name in `remote` (the worker must be able to import it), or given.
 *
 * @param remote - the notifier's {@link Notifier.remote}.
 * @param count - a positive integer. Defaults to `1`.
 * @param backend - the backend object to use; defaults to loading the backend named by `remote.backend`.
 * @throws InvalidArgumentError for a bad `remote` or `count`; UnsupportedError if the backend has no notifiers;
 *   ErrnoError (`EBADF`) if the notifier was closed.
 *
 * @example
 * ```ts
 * // worker.mjs
 * import { parentPort, workerData } from 'node:worker_threads';
 * import { notifyRemote } from '@fdloop/core';
 * notifyRemote(workerData.remote, 1);
 * ```
 */
export function notifyRemote(remote: NotifierRemote, count = 1, backend?: Backend): void {
  if (remote === null || typeof remote !== 'object' || typeof remote.backend !== 'string') {
    throw new InvalidArgumentError('remote', 'must be the remote of a notifier (an object with a backend name)');
  }
  validateCount(count);
  const b = backend ?? loadBackend(remote.backend);
  if (typeof b.notifyRemote !== 'function' || !b.capabilities.notifier) throw new UnsupportedError(b.name, 'notifier');
  b.notifyRemote(remote, count);
}
