/**
 * Loading `fdloop_poll.node` and the exact shape of what it exports. Internal: the public API is in `index.ts`,
 * and `poller.ts` validates arguments and turns `-errno` results into {@link ErrnoError}s.
 *
 * @module
 */

import { isAddonSyscallError, loadAddon, type AddonSyscallError } from '@fdloop/native-build';

/** A native poller: a thread blocked in poll(2), handing results to this thread through one `uv_async_t`. */
export interface NativePoller {
  /** `2 * batchSize` doubles of `(token, flags)` pairs, valid inside `onEvents`. */
  readonly events: Float64Array;
  /** Register `fd` (interest: condition bits only). Returns 0 or `-errno`. */
  add(fd: number, token: number, interest: number): number;
  /** Replace the token and interest of a registered `fd`. Returns 0 or `-errno`. */
  mod(fd: number, token: number, interest: number): number;
  /** Remove `fd`; returns once the poll thread no longer holds it. Returns 0 or `-errno`. */
  del(fd: number): number;
  /** Let the async handle keep the loop alive (`uv_ref`). */
  ref(): void;
  /** Stop the async handle from keeping the loop alive (`uv_unref`). The initial state. */
  unref(): void;
  /** Stop and join the poll thread, close the handle. Idempotent. */
  close(): void;
}

/** `new Poller(batchSize, onEvents, threadName)`; throws an Error with `errno` and `syscall` if a call fails. */
export type NativePollerConstructor = new (
  batchSize: number,
  onEvents: (count: number) => void,
  threadName: string,
) => NativePoller;

/** Everything `fdloop_poll.node` exports. */
export interface NativeBinding {
  readonly Poller: NativePollerConstructor;
  /** Whether the addon was compiled with `POLLRDHUP` (reports `Ready.READ_HANGUP`). */
  readonly readHangup: boolean;
}

/** The shape of errors the native constructor throws when a system call fails. */
export type NativeErrnoError = AddonSyscallError;

/** Whether `error` is a system-call failure thrown by the addon (as opposed to an argument error). */
export const isNativeErrnoError: (error: unknown) => error is NativeErrnoError = isAddonSyscallError;

// Module state is per thread: a worker_thread that imports this package gets its own copy, and Node loads the
// addon into each environment separately.
let binding: NativeBinding | undefined;

/**
 * Load the addon once per thread: a prebuilt binary for this platform if one ships with the package, else the one
 * `npm install` compiled into `build/Release` (a prebuild that fails in dlopen is skipped).
 * @throws AddonLoadError (from `@fdloop/native-build`) explaining how to build the addon, with each location tried
 *   and why it failed.
 */
export function loadNative(): NativeBinding {
  binding ??= loadAddon<NativeBinding>({
    name: '@fdloop/backend-poll',
    addon: 'fdloop_poll.node',
    root: new URL('../', import.meta.url),
    note: process.platform === 'win32' ? 'poll(2) and pthreads are POSIX-only; this is Windows.' : undefined,
  });
  return binding;
}
