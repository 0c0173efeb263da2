/**
 * `@fdloop/backend-epoll`: the Linux backend of fdloop. {@link epoll} creates a {@link Backend} whose pollers are
 * epoll instances integrated with the current thread's libuv loop (one `uv_poll_t` each), delivering ready
 * events to the runtime in batches through a shared `Float64Array`. {@link sys} holds small POSIX helpers
 * (pipes, socketpairs, eventfds, ptys, TCP) that create descriptors worth watching.
 *
 * @example
 * ```ts
 * import { createRuntime, Interest } from '@fdloop/core';
 * import { epoll, sys } from '@fdloop/backend-epoll';
 *
 * const rt = createRuntime({ backend: epoll() });
 * const [r, w] = sys.pipe();
 * rt.watch(r, Interest.READABLE, (_ev, watcher) => {
 *   const buf = Buffer.alloc(64);
 *   const n = sys.read(r, buf);
 *   console.log(buf.subarray(0, n).toString()); // "ping"
 *   watcher.close();
 * });
 * sys.write(w, Buffer.from('ping'));
 * await rt.run();
 * ```
 *
 * @packageDocumentation
 */

import { NO_CAPABILITIES, type Backend, type Capabilities, type Poller, type PollerOptions } from '@fdloop/core';
import { NativePoller, createPosixNet, validateInteger } from '@fdloop/core/backend-kit';
import { loadNative } from './native.js';
import { addEpollSource, notifyEventfd } from './sources/handles.js';
import { uringProvider } from './uring.js';

export * as sys from './sys.js';
export * as gpio from './gpio.js';
export { fanotify, type Fanotify, type FanotifyEvent, type FanotifyEventKind, type FanotifyMarkOptions, type FanotifyOptions } from './fanotify.js';
export { watchAttribute, type AttributeChange, type AttributeWatchOptions, type AttributeWatcher } from './attribute.js';
export * from './sys.js';
export { ioUringDisabled, uringProvider } from './uring.js';

/**
 * What the epoll backend supports: edge-triggered and one-shot registrations, `EPOLLPRI` and a separate
 * read-side hang-up (`EPOLLRDHUP`), and the event sources: kernel timers (timerfd), signals (signalfd),
 * notifiers (eventfd), path watching (inotify) and process exit (pidfd). fanotify and GPIO character devices are
 * Linux-only extras exported by this package ({@link fanotify}, {@link gpio}).
 */
export const EPOLL_CAPABILITIES: Capabilities = Object.freeze({
  ...NO_CAPABILITIES,
  edge: true,
  oneshot: true,
  priority: true,
  readHangup: true,
  timer: true,
  signal: true,
  notifier: true,
  pathWatch: true,
  processExit: true,
  fanotify: true,
  gpio: true,
});

/** Options of {@link epoll}. */
export interface EpollOptions {
  /**
   * How many batches a poller may harvest and deliver in one turn of the event loop before it lets libuv run
   * timers and other I/O. After each non-empty batch the poller looks again, because callbacks often make other
   * watched descriptors ready at once (a proxy, a pipeline); an empty look ends the turn, and so does 1 ms spent
   * in this wake-up. `1` restores libuv-like one-harvest-per-turn behaviour. From `1` to `1024`. Defaults to `64`.
   */
  readonly maxRounds?: number;
}

const DEFAULT_MAX_ROUNDS = 64;
const MAX_ROUNDS = 1024;

/**
 * Create the epoll backend. The native addon is loaded now, so a missing or broken build is reported here rather
 * than on first use.
 * @param options see {@link EpollOptions}.
 * @throws Error if the native addon cannot be loaded; the message says how to build it.
 * @throws InvalidArgumentError for an invalid option.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { epoll } from '@fdloop/backend-epoll';
 *
 * const rt = createRuntime({ backend: epoll() });
 * ```
 */
export function epoll(options?: EpollOptions): Backend {
  const maxRounds = validateInteger('maxRounds', options?.maxRounds ?? DEFAULT_MAX_ROUNDS, 1, MAX_ROUNDS);
  const binding = loadNative();
  return Object.freeze({
    name: 'epoll',
    // The socket calls of native-build's `posix` component (shared with the kqueue backend), passed through.
    net: createPosixNet(binding, '@fdloop/backend-epoll'),
    capabilities: EPOLL_CAPABILITIES,
    createPoller(pollerOptions: PollerOptions): Poller {
      // One epoll instance per poller, watched by one uv_poll_t on the creating thread's loop.
      const poller: Poller = new NativePoller(pollerOptions, {
        ctlSyscall: 'epoll_ctl',
        create: (batchSize, onEvents) => new binding.Poller(batchSize, onEvents, maxRounds),
      });
      // Event sources (src/sources/) register their descriptors through the poller's own register().
      return Object.assign(poller, { addSource: addEpollSource.bind(undefined, poller) as Poller['addSource'] });
    },
    notifyRemote: notifyEventfd,
    // The optional completion layer (io_uring), found by completionProvider() from @fdloop/core. Whether the
    // kernel allows it is known only when a runtime opens it, so capabilities.completionIo stays false.
    completion: uringProvider,
  });
}

/**
 * The same as {@link epoll}; the name `@fdloop/core` looks for when it finds this package by auto-detection
 * (`createRuntime()` with no backend on Linux).
 *
 * @example
 * ```ts
 * import { createBackend } from '@fdloop/backend-epoll';
 * const backend = createBackend();
 * ```
 */
export function createBackend(options?: EpollOptions): Backend {
  return epoll(options);
}
