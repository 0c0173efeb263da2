/**
 * Loading `fdloop_kqueue.node` and the exact shape of what it exports. Internal: the public API is in `index.ts`,
 * which validates arguments and turns `-errno` results into `ErrnoError`s.
 *
 * @module
 */

import type { NativePollerHandle, NativePosixSock, NativePosixSys } from '@fdloop/core/backend-kit';
import { addonLoader } from '@fdloop/native-build';

/**
 * A native poller: one kqueue watched by one `uv_poll_t` on the creating thread's loop. `add` is `EV_ADD` of the
 * interest's filters (`-EEXIST` if `fd` is registered already), `mod` changes filters, mode and token (re-arming
 * ONESHOT), `del` is `EV_DELETE` of every filter; each returns 0 or `-errno`.
 */
export interface NativeKqueuePoller extends NativePollerHandle {
  /**
   * Add the knote `(filter, ident)` of an event source, reported with `token` (`-EEXIST` if this poller has it
   * already). For `EVFILT_SIGNAL` it also ignores the signal process-wide until `srcDel` or the poller's end (see
   * native/kqueue/signal_disposition.h). `rearmInterval` (timers): after the first expiration, re-add it periodic with this data.
   * Returns 0 or `-errno`.
   */
  srcAdd(filter: number, ident: number, flags: number, fflags: number, data: number, token: number, rearmInterval?: number): number;
  /** Delete a source's knote (it may be gone already) and forget it. Returns 0 or `-errno`. */
  srcDel(filter: number, ident: number): number;
  /**
   * `out = [kevents, data, fflags]` accumulated since the last read, then cleared. For `EVFILT_PROC`, `data` is the
   * exit: the code (0-255), 256 + the signal (+ 512 with a core dump), or -1 if unknown. Returns 0 or `-ENOENT`.
   */
  srcRead(filter: number, ident: number, out: Float64Array): number;
  /** Stop (`true`) or restart reporting a source; a restart with something pending reports at once. */
  srcPause(filter: number, ident: number, paused: boolean): number;
  /** The kqueue descriptor, or -1 once closed. */
  kernelFd(): number;
  /**
   * A descriptor for `EVFILT_VNODE` (`O_EVTONLY` on macOS), owned by the poller: `srcDel(EVFILT_VNODE, fd)` closes
   * it, and so does the poller's teardown. Returns the descriptor or `-errno`.
   */
  vnodeOpen(path: string, followSymlinks: boolean): number;
}

/** kqueue constants of the platform the addon was compiled for. */
export interface NativeConstants {
  readonly EVFILT_TIMER: number;
  readonly EVFILT_SIGNAL: number;
  readonly EVFILT_USER: number;
  readonly EVFILT_VNODE: number;
  readonly EVFILT_PROC: number;
  readonly EV_ONESHOT: number;
  readonly EV_CLEAR: number;
  readonly EV_ENABLE: number;
  readonly NOTE_USECONDS: number;
  readonly NOTE_EXIT: number;
  /** macOS only: ask for the exit status of a child in `data`. */
  readonly NOTE_EXITSTATUS?: number;
  readonly NOTE_DELETE: number;
  readonly NOTE_WRITE: number;
  readonly NOTE_EXTEND: number;
  readonly NOTE_ATTRIB: number;
  readonly NOTE_LINK: number;
  readonly NOTE_RENAME: number;
  readonly NOTE_REVOKE: number;
}

/** `new Poller(batchSize, onEvents, maxRounds?)`; throws an Error with `errno` and `syscall` if a call fails. */
export type NativePollerConstructor = new (
  batchSize: number,
  onEvents: (count: number) => void,
  maxRounds?: number,
) => NativeKqueuePoller;

/** Everything `fdloop_kqueue.node` exports that this package's TypeScript uses. */
export interface NativeBinding {
  readonly Poller: NativePollerConstructor;
  /** Whether this binary was compiled against the Linux test emulation instead of a real kqueue. */
  readonly emulated: boolean;
  /** Whether out-of-band data is reported (`EVFILT_EXCEPT` with `NOTE_OOB`, macOS). */
  readonly priority: boolean;
  /** `NOTE_TRIGGER` of the `EVFILT_USER` knote `ident` of kqueue `kq`, from any thread. Returns 0 or `-errno`. */
  userTrigger(kq: number, ident: number): number;
  readonly constants: NativeConstants;
  /** The POSIX helpers of native-build's `posix` component (pipes, socketpairs, ptys, TCP). */
  readonly sys: NativePosixSys;
  /** The socket system calls of native-build's `posix` component, behind `Backend.net`. */
  readonly sock: NativePosixSock;
}

/**
 * Load the addon once per thread from `build/Release`, where `npm install` compiled it.
 * @throws Error off macOS/FreeBSD (kqueue does not exist there); AddonLoadError (from `@fdloop/native-build`)
 *   explaining how to build the addon, with the file tried and why it failed.
 */
export const loadNative: () => NativeBinding = addonLoader<NativeBinding>({
  name: '@fdloop/backend-kqueue',
  addon: 'fdloop_kqueue.node',
  root: new URL('../', import.meta.url),
  // No prebuilds ship for kqueue platforms; `npm install` compiles.
  locations: ['build/Release'],
  refuse: () =>
    process.platform === 'darwin' || process.platform === 'freebsd'
      ? undefined
      : `@fdloop/backend-kqueue: kqueue exists on macOS and FreeBSD; this is ${process.platform}` +
        (process.platform === 'linux' ? ' (use @fdloop/backend-epoll).' : '.'),
});
