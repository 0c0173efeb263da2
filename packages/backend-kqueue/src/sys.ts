/**
 * The `sys` helpers of the kqueue backend: `@fdloop/core`'s {@link createPosixSys} over this addon's native
 * functions (native-build's `posix` component, the same code as `@fdloop/backend-epoll`'s). The same functions,
 * arguments and errors as backend-epoll's `sys`, except that every platform number (`EAGAIN`, `MSG_DONTWAIT`) comes
 * from the addon instead of Linux's headers, and {@link PosixSys.eventfd} throws an `UnsupportedError`
 * (there is no eventfd on macOS or FreeBSD; use `rt.notifier()`, which is `EVFILT_USER` here).
 *
 * @module
 */

import { createPosixSys, type EventfdOptions, type NativePosixSys, type PosixSys as CommonPosixSys } from '@fdloop/core/backend-kit';

export type { EventfdOptions, Pty, PtyPacketFlags, SocketPairType, TcpListener } from '@fdloop/core/backend-kit';

/**
 * Small POSIX helpers for creating and using descriptors a runtime can watch: `@fdloop/core/backend-kit`'s
 * `PosixSys` (every descriptor non-blocking and close-on-exec, no `SIGPIPE`, {@link PosixSys.WOULD_BLOCK} instead
 * of `EAGAIN`, Node-shaped `ErrnoError`s), with `eventfd` refused.
 *
 * @example
 * ```ts
 * import { sys } from '@fdloop/backend-kqueue';
 *
 * const [r, w] = sys.pipe();
 * sys.write(w, Buffer.from('ping'));
 * const buf = Buffer.alloc(16);
 * const n = sys.read(r, buf); // 4
 * sys.read(r, buf) === sys.WOULD_BLOCK; // true: the pipe is empty
 * sys.close(r);
 * sys.close(w);
 * ```
 */
export interface PosixSys extends Omit<CommonPosixSys, 'eventfd'> {
  /**
   * eventfd exists on Linux only: this always throws (after checking its arguments), on macOS and FreeBSD alike.
   * A cross-thread wake-up here is `rt.notifier()` (`EVFILT_USER`).
   * @param initial the counter's initial value (0 to 2^32 - 1). Defaults to `0`.
   * @param options see {@link EventfdOptions}.
   * @throws UnsupportedError (`ERR_FDLOOP_UNSUPPORTED`, `feature: 'eventfd'`, `cause`: the `ENOSYS` ErrnoError).
   */
  eventfd(initial?: number, options?: EventfdOptions): never;
}

/**
 * The helpers over the native functions `native()` returns (called on every use, so the addon is loaded lazily).
 * `backend` names the backend in `UnsupportedError`s. Internal: the entry point passes the published addon,
 * the tests the emulated build.
 */
export function createSys(native: () => NativePosixSys, backend = 'kqueue'): PosixSys {
  return createPosixSys(native, { backend, eventfdUnsupported: 'use rt.notifier() (EVFILT_USER) instead' }) as PosixSys;
}
