/**
 * `@fdloop/backend-poll`: a portable fdloop backend built on nothing but poll(2), and the worked example of the
 * guide "Writing a custom backend plugin".
 *
 * poll(2) has no kernel object that libuv could watch (unlike an epoll or kqueue descriptor), so each poller runs
 * one native thread that blocks in poll(2) over the registered descriptors plus a wake-up pipe. When poll(2)
 * returns, the thread hands the ready descriptors to the runtime's thread through a `uv_async_t` on that thread's
 * own libuv loop, and waits until they have been delivered before it polls again. The runtime receives them as
 * `(token, flags)` pairs in batches, exactly as from the epoll backend.
 *
 * Level-triggered only: `Interest.EDGE` is refused, `Interest.ONESHOT` is emulated by the runtime.
 *
 * @example
 * ```ts
 * import { createRuntime, Interest } from '@fdloop/core';
 * import { poll } from '@fdloop/backend-poll';
 * import { sys } from '@fdloop/backend-epoll'; // or any source of non-blocking descriptors
 *
 * const rt = createRuntime({ backend: poll() });
 * const [r, w] = sys.pipe();
 * rt.watch(r, Interest.READABLE, (ev, watcher) => {
 *   console.log(ev.toString()); // "fd 21: readable"
 *   watcher.close();
 * });
 * sys.write(w, Buffer.from('ping'));
 * await rt.run();
 * await rt.close();
 * ```
 *
 * @packageDocumentation
 */

import {
  InvalidArgumentError,
  describeReceived,
  NO_CAPABILITIES,
  type Backend,
  type Capabilities,
  type Poller,
  type PollerOptions,
} from '@fdloop/core';
import { loadNative } from './native.js';
import { createPollPoller } from './poller.js';

/**
 * What the poll backend supports: `Interest.PRIORITY` (`POLLPRI`), and a separate read-side hang-up
 * (`POLLRDHUP` → `Ready.READ_HANGUP`) on Linux only, where poll(2) has it. No edge-triggered mode (poll(2) cannot
 * do it) and no native one-shot mode: the runtime emulates `Interest.ONESHOT` by deregistering on delivery
 * and registering again on re-arm. No other event sources.
 */
export const POLL_CAPABILITIES: Capabilities = Object.freeze({
  ...NO_CAPABILITIES,
  priority: true,
  readHangup: process.platform === 'linux' || process.platform === 'android',
});

/** Options of {@link poll}. */
export interface PollOptions {
  /**
   * The name of each poller's thread, as shown by `top -H`, `ps -L`, debuggers and `/proc/<pid>/task/<tid>/comm`
   * (Linux and macOS). At most 15 bytes of UTF-8. Defaults to `'fdloop-poll'`.
   */
  readonly threadName?: string;
}

const DEFAULT_THREAD_NAME = 'fdloop-poll';
// Linux keeps 16 bytes for a thread's name, including the terminating NUL.
const MAX_THREAD_NAME_BYTES = 15;

/**
 * Create the poll backend. The native addon is loaded now, so a missing or broken build is reported here rather
 * than on first use. Each poller it creates starts one thread, stopped and joined by {@link Poller.close} (or when
 * the thread's environment ends, for example a terminated worker).
 *
 * @param options see {@link PollOptions}.
 * @throws Error if the native addon cannot be loaded; the message says how to build it.
 * @throws InvalidArgumentError for an invalid option.
 *
 * @example
 * ```ts
 * import { createRuntime, registerBackend } from '@fdloop/core';
 * import { poll } from '@fdloop/backend-poll';
 *
 * const rt = createRuntime({ backend: poll() });
 * // or, by name:
 * registerBackend('poll', () => poll());
 * const rt2 = createRuntime({ backend: 'poll' });
 * ```
 */
export function poll(options?: PollOptions): Backend {
  const threadName = options?.threadName ?? DEFAULT_THREAD_NAME;
  if (typeof threadName !== 'string' || threadName === '' || Buffer.byteLength(threadName) > MAX_THREAD_NAME_BYTES || threadName.includes('\0')) {
    throw new InvalidArgumentError(
      'threadName',
      `must be a non-empty string of at most ${MAX_THREAD_NAME_BYTES} bytes without NUL, got ${describeReceived(threadName)}`,
    );
  }
  const binding = loadNative();
  return Object.freeze({
    name: 'poll',
    capabilities: POLL_CAPABILITIES,
    createPoller(pollerOptions: PollerOptions): Poller {
      return createPollPoller(binding, pollerOptions, threadName);
    },
  });
}

/**
 * The same as {@link poll}, under the name `@fdloop/core` calls when it loads a backend package by itself.
 * (`poll` is not one of the names core knows; register it with `registerBackend('poll', () => poll())`.)
 *
 * @param options see {@link PollOptions}.
 * @example
 * ```ts
 * import { createBackend } from '@fdloop/backend-poll';
 * const backend = createBackend({ threadName: 'io-poll' });
 * ```
 */
export function createBackend(options?: PollOptions): Backend {
  return poll(options);
}
