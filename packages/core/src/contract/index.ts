/**
 * The fdloop backend contract: the one place a backend author reads, top to bottom.
 *
 * A backend turns "tell me when this descriptor is ready" into kernel calls (epoll, kqueue, IOCP/AFD, poll(2)…)
 * and reports readiness back to the {@link Runtime} in batches. The runtime owns everything else: the watcher
 * slab, tokens and their generations, callbacks, promises, timers, reference counting and tracing. A backend
 * therefore stays small and has no policy of its own.
 *
 * ## Guarantees a backend gives
 * 1. **Tokens are opaque.** `register(fd, token, interest)` stores `token` (a non-negative safe integer) in the
 *    kernel's user data and reports it back verbatim. The runtime encodes a slot and a generation in it, so
 *    events for a registration that was closed (and possibly replaced on the same fd number) are recognised as
 *    stale and dropped by the runtime, not by the backend.
 * 2. **Batches.** Ready events are written into the poller's shared `Float64Array` as `(token, flags)` pairs and
 *    announced with one call of {@link PollerSink.onEvents} per batch. A backend never calls into JS per event.
 * 3. **Spurious readiness is allowed** (as in mio and libuv): a READABLE event means "try a read", and callers
 *    read until `EAGAIN`. A backend may merge several kernel events into one pair by OR-ing their flags.
 * 4. **Nothing after close.** After {@link Poller.close} (or the environment's teardown) the sink is never
 *    called again, and the backend does not touch memory the runtime may reuse.
 * 5. **Errors are typed.** Failing system calls throw an {@link ErrnoError} shaped like Node's
 *    (`code: 'EBADF'`, negative `errno`, `syscall: 'epoll_ctl'`). Build them with {@link errnoError}.
 * 6. **One poller per runtime, one runtime per thread.** A backend keeps no process-global state; it must work
 *    in `worker_threads`, each thread with its own pollers, and close them when the thread's environment ends.
 * 7. **Keep-alive is explicit.** A poller keeps the Node event loop alive only while {@link Poller.ref} is in
 *    effect; the runtime refs it exactly when a ref'd watcher exists.
 *
 * @packageDocumentation
 */

import type { SourceBackend, SourcePoller } from './sources.js';

export * from './sources.js';

/**
 * Interest bits: what to wait for, and how. An interest is a bit set that must include at least one of
 * {@link Interest.READABLE}, {@link Interest.WRITABLE} or {@link Interest.PRIORITY}; at most one of the mode bits
 * {@link Interest.EDGE} and {@link Interest.ONESHOT} may be combined with them (or both: edge-triggered one-shot).
 * The default mode is {@link Interest.LEVEL}.
 *
 * @example
 * ```ts
 * rt.watch(fd, Interest.READABLE | Interest.PRIORITY, (ev) => { if (ev.priority) readUrgentData(); });
 * rt.watch(fd, Interest.READABLE | Interest.EDGE, drainUntilEagain);
 * ```
 */
export const Interest = {
  /** Data can be read without blocking (`EPOLLIN`, `EVFILT_READ`, `POLLIN`). */
  READABLE: 1,
  /** Data can be written without blocking (`EPOLLOUT`, `EVFILT_WRITE`, `POLLOUT`). */
  WRITABLE: 2,
  /**
   * Exceptional condition (`EPOLLPRI`/`POLLPRI`): TCP urgent data, a pty packet-mode status change, a sysfs
   * attribute changed through `sysfs_notify` (legacy GPIO value files), a cgroup event.
   */
  PRIORITY: 4,
  /** Level-triggered (the default, value `0`): reported on every poll while the condition holds. */
  LEVEL: 0,
  /**
   * Edge-triggered: reported when something new makes the descriptor ready, not again while it merely stays
   * ready. The backend-agnostic guarantee: after a report, the next one is due only once the watcher has
   * **drained** that direction — read (or written, or accepted) until the call said would-block (`EAGAIN`) —
   * and then something new arrives (or room appears). A backend may report more often: epoll reports every
   * arrival, even unread; kqueue (`EV_CLEAR`) reports whenever more data came since the last report; iocp
   * re-arms a direction only when one of its own socket functions has returned would-block, or on
   * {@link Poller.reregister}. So a watcher must read or write until `EAGAIN` after each report, or it may never
   * hear of the descriptor again — and it must not rely on a report per arrival.
   */
  EDGE: 8,
  /**
   * One-shot: reported once, then the registration is disarmed (it stays registered and keeps the runtime
   * alive) until {@link Watcher.modify} re-arms it.
   */
  ONESHOT: 16,
} as const;

/** A value built from {@link Interest} bits, for example `Interest.READABLE | Interest.EDGE`. */
export type InterestFlags = number;

/** Bits of {@link Interest} that name a condition (as opposed to a mode). */
export const INTEREST_CONDITIONS = Interest.READABLE | Interest.WRITABLE | Interest.PRIORITY;

/** Bits of {@link Interest} that name a mode. */
export const INTEREST_MODES = Interest.EDGE | Interest.ONESHOT;

/**
 * Ready bits reported by a backend for one registration, in the `flags` half of each `(token, flags)` pair.
 * The runtime exposes them as the boolean getters of {@link ReadyEvent}.
 */
export const Ready = {
  /** Readable (or end of file: a read will not block). */
  READABLE: 1,
  /** Writable. */
  WRITABLE: 2,
  /** Priority / exceptional condition (`EPOLLPRI`). */
  PRIORITY: 4,
  /** The peer closed its writing side: reads will return end of file after the data queued (`EPOLLRDHUP`). */
  READ_HANGUP: 8,
  /** Hang-up: both directions are closed, or the writing side for a pipe's write end (`EPOLLHUP`). */
  HANGUP: 16,
  /** An error is pending on the descriptor (`EPOLLERR`); for sockets, read it with `SO_ERROR`. */
  ERROR: 32,
} as const;

/** A value built from {@link Ready} bits. */
export type ReadyFlags = number;

/**
 * What a backend can do. A runtime that is asked for a feature the backend lacks throws an
 * {@link UnsupportedError} naming the backend and the feature, instead of silently degrading.
 */
export interface Capabilities {
  /** Edge-triggered registrations ({@link Interest.EDGE}), with at least the drain-then-arrive guarantee it describes. */
  readonly edge: boolean;
  /** One-shot registrations ({@link Interest.ONESHOT}) re-armed by `reregister`. */
  readonly oneshot: boolean;
  /** {@link Interest.PRIORITY} (exceptional conditions, `POLLPRI`). */
  readonly priority: boolean;
  /** {@link Ready.READ_HANGUP} is reported separately from {@link Ready.HANGUP}. */
  readonly readHangup: boolean;
  /** Kernel timers as event sources (timerfd, `EVFILT_TIMER`, thread-pool timers posting completion packets on Windows). */
  readonly timer: boolean;
  /** Signals as event sources (signalfd, `EVFILT_SIGNAL`). */
  readonly signal: boolean;
  /** A cross-thread notifier (eventfd, `EVFILT_USER`, `PostQueuedCompletionStatus`). */
  readonly notifier: boolean;
  /** File and directory watching (inotify, `EVFILT_VNODE`, `ReadDirectoryChangesW`). */
  readonly pathWatch: boolean;
  /** Waiting for a process to exit without blocking (pidfd, `EVFILT_PROC`). */
  readonly processExit: boolean;
  /**
   * The optional completion I/O layer (IOCP) is known to be usable up front. `false` does not mean there is none:
   * a backend whose layer depends on the running kernel (epoll's io_uring, which `kernel.io_uring_disabled` may
   * forbid) still exposes `backend.completion`, and `completionProvider(backend)?.open(rt)` says whether it opened.
   */
  readonly completionIo: boolean;
  /** GPIO character-device lines. */
  readonly gpio: boolean;
  /** Linux fanotify. */
  readonly fanotify: boolean;
}

/** The name of one capability, for {@link UnsupportedError} and {@link Runtime.requireCapability}. */
export type CapabilityName = keyof Capabilities;

/**
 * The receiving side of a poller, supplied by the runtime when it creates the poller.
 */
export interface PollerSink {
  /**
   * Called once per batch. `count` pairs `(token, flags)` are waiting at the start of {@link Poller.events}:
   * `events[2*i]` is the token given at registration, `events[2*i + 1]` the {@link Ready} flags.
   * A negative `count` reports a failure of the poller itself as `-errno` (for example the kernel poller's
   * descriptor became invalid); the runtime turns it into an {@link ErrnoError} for its error handler.
   *
   * The backend calls it from the thread that owns the runtime, inside a callback scope, so promise
   * continuations run when it returns. It must not be called after {@link Poller.close}.
   */
  onEvents(count: number): void;
}

/** Options the runtime passes to {@link Backend.createPoller}. */
export interface PollerOptions {
  /**
   * The most `(token, flags)` pairs delivered in one {@link PollerSink.onEvents} call.
   * Defaults to `1024` in the runtime.
   */
  readonly batchSize: number;
  /** Where batches go. */
  readonly sink: PollerSink;
}

/**
 * One kernel poller (an epoll fd, a kqueue fd, an IOCP port…) integrated with the current thread's event loop.
 * All methods throw an {@link ErrnoError} on failure and nothing else is changed when they do.
 */
export interface Poller {
  /**
   * The shared batch buffer: `2 * batchSize` doubles holding `(token, flags)` pairs. The runtime reads it only
   * inside {@link PollerSink.onEvents}.
   */
  readonly events: Float64Array;
  /**
   * Start watching `fd` for `interest` ({@link Interest} bits, already validated by the runtime) and report its
   * events with `token`.
   * @throws ErrnoError `EBADF` for a closed descriptor, `EPERM` for a descriptor the kernel cannot poll
   * (a regular file under epoll), `EEXIST` if `fd` is already registered with this poller.
   */
  register(fd: number, token: number, interest: InterestFlags): void;
  /** Replace the interest and token of a registered `fd`; re-arms a fired {@link Interest.ONESHOT}. */
  reregister(fd: number, token: number, interest: InterestFlags): void;
  /**
   * Stop watching `fd`. Pending events for it that were already harvested may still arrive in the current
   * batch; the runtime drops them by generation.
   */
  deregister(fd: number): void;
  /** Keep the thread's event loop alive while this poller has work (the runtime calls it). */
  ref(): void;
  /** Let the thread's event loop exit even though this poller is open. */
  unref(): void;
  /** Release the kernel poller. Idempotent. After it returns the sink is never called again. */
  close(): void;
  /**
   * Event sources (kernel timers, signals, notifiers, path watches, process exits): create one and report it with
   * `token`. Required when the backend declares any of the capabilities `timer`, `signal`, `notifier`,
   * `pathWatch` or `processExit`; the full rules are in {@link SourcePoller}.
   */
  addSource?: SourcePoller['addSource'];
}

/**
 * A backend: a factory of pollers plus a description of what it can do. Backends are plain objects so that a
 * user can write one in an afternoon (see the conformance suite in `@fdloop/core/testing`).
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { epoll } from '@fdloop/backend-epoll';
 * const rt = createRuntime({ backend: epoll() });
 * ```
 */
export interface Backend {
  /** A short stable name (`'epoll'`, `'kqueue'`, `'iocp'`, `'poll'`), used in errors and traces. */
  readonly name: string;
  /** What this backend supports. */
  readonly capabilities: Capabilities;
  /** Create a poller bound to the calling thread's event loop. */
  createPoller(options: PollerOptions): Poller;
  /**
   * Socket system calls, for backends that offer them (see `contract/net.ts`): `@fdloop/mod-net` and
   * `@fdloop/mod-http` create their sockets through this. Undefined when the backend has no sockets.
   */
  readonly net?: NetSyscalls;
  /**
   * Trigger a notifier from any thread (see {@link SourceBackend.notifyRemote}). Required when the backend
   * declares {@link Capabilities.notifier}.
   */
  notifyRemote?: SourceBackend['notifyRemote'];
}

/** Capabilities with everything switched off, to spread into a backend's own. */
export const NO_CAPABILITIES: Capabilities = Object.freeze({
  edge: false,
  oneshot: false,
  priority: false,
  readHangup: false,
  timer: false,
  signal: false,
  notifier: false,
  pathWatch: false,
  processExit: false,
  completionIo: false,
  gpio: false,
  fanotify: false,
});

import type { NetSyscalls } from './net.js';
export * from './net.js';
export * from './completion.js';
