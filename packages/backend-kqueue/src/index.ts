/**
 * `@fdloop/backend-kqueue`: the macOS and FreeBSD backend of fdloop. {@link kqueue} creates a {@link Backend} whose
 * pollers are kqueues integrated with the current thread's libuv loop (one `uv_poll_t` each), delivering ready
 * events to the runtime in batches through a shared `Float64Array`, exactly like `@fdloop/backend-epoll`. The backend
 * also carries the socket system calls of `@fdloop/mod-net` (`Backend.net`), and {@link sys} holds small POSIX
 * helpers (pipes, socketpairs, ptys, TCP) that create descriptors worth watching.
 *
 * @example
 * ```ts
 * import { createRuntime, Interest } from '@fdloop/core';
 * import { kqueue } from '@fdloop/backend-kqueue';
 * import { openSync } from 'node:fs';
 *
 * const rt = createRuntime({ backend: kqueue() });
 * const fd = openSync('/dev/tty', 'r');
 * rt.watch(fd, Interest.READABLE, (ev, watcher) => {
 *   console.log(`${ev}`); // "fd 23: readable"
 *   watcher.close();
 * });
 * await rt.run();
 * ```
 *
 * @packageDocumentation
 */

import type { Backend, Capabilities } from '@fdloop/core';
import { createKqueueBackend, kqueueCapabilities } from './backend.js';
import { loadNative } from './native.js';
import { createSys, type PosixSys } from './sys.js';

export { MAX_BATCH_SIZE, MAX_ROUNDS } from './poller.js';
export type { EventfdOptions, PosixSys, Pty, PtyPacketFlags, SocketPairType, TcpListener } from './sys.js';

/**
 * Small POSIX helpers for creating and using descriptors worth watching (pipes, socketpairs, ptys, TCP sockets)
 * and non-blocking `read`/`write`/`send`/`recv`: the same functions as `@fdloop/backend-epoll`'s `sys`, compiled
 * from the same native sources, without `eventfd` (it throws `ERR_FDLOOP_UNSUPPORTED`: use `rt.notifier()`). The
 * addon is loaded on first use. See {@link PosixSys}.
 *
 * @example
 * ```ts
 * import { createRuntime, Interest } from '@fdloop/core';
 * import { kqueue, sys } from '@fdloop/backend-kqueue';
 *
 * const rt = createRuntime({ backend: kqueue() });
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
 */
export const sys: PosixSys = createSys(() => loadNative().sys);

/**
 * What the kqueue backend supports on macOS: edge-triggered (`EV_CLEAR`) and one-shot (`EV_DISPATCH`)
 * registrations, `Interest.PRIORITY` through `EVFILT_EXCEPT`/`NOTE_OOB`, and a separate read-side hang-up
 * (`EV_EOF` on `EVFILT_READ`). FreeBSD's kqueue does not report out-of-band data, so there `priority` is `false`
 * (the backend's own `capabilities` say which applies). Event sources: kernel timers (`EVFILT_TIMER`), signals
 * (`EVFILT_SIGNAL`), notifiers (`EVFILT_USER`), path watches (`EVFILT_VNODE`, one descriptor per watched file or
 * directory) and process exits (`EVFILT_PROC`/`NOTE_EXIT`).
 */
export const KQUEUE_CAPABILITIES: Capabilities = kqueueCapabilities(true);

/** Options of {@link kqueue}. */
export interface KqueueOptions {
  /**
   * How many batches a poller may harvest and deliver in one turn of the event loop before it lets libuv run
   * timers and other I/O. After each non-empty batch the poller looks again; an empty look ends the turn, and so
   * does 1 ms spent in this wake-up. `1` restores libuv-like one-harvest-per-turn behaviour. From `1` to `1024`.
   * Defaults to `64`.
   */
  readonly maxRounds?: number;
}

/**
 * Create the kqueue backend. The native addon is loaded now, so a missing build (or a platform without kqueue) is
 * reported here rather than on first use.
 * @param options see {@link KqueueOptions}.
 * @throws Error if the native addon cannot be loaded (on Linux and Windows: always); the message says why.
 * @throws InvalidArgumentError for an invalid option.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { kqueue } from '@fdloop/backend-kqueue';
 *
 * const rt = createRuntime({ backend: kqueue() });
 * ```
 */
export function kqueue(options?: KqueueOptions): Backend {
  return createKqueueBackend(loadNative(), options);
}

/**
 * The same as {@link kqueue}; the name `@fdloop/core` looks for when it finds this package by auto-detection
 * (`createRuntime()` with no backend on macOS or FreeBSD).
 *
 * @example
 * ```ts
 * import { createBackend } from '@fdloop/backend-kqueue';
 * const backend = createBackend();
 * ```
 */
export function createBackend(options?: KqueueOptions): Backend {
  return kqueue(options);
}
