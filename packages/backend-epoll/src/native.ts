/**
 * Loading `fdloop_epoll.node` and the exact shape of what it exports. Internal: the public API is in `index.ts`
 * and `sys.ts`, which validate arguments and turn `-errno` results into `ErrnoError`s.
 *
 * @module
 */

import type { NativePollerHandle, NativePosixSock, NativePosixSys } from '@fdloop/core/backend-kit';
import { addonLoader } from '@fdloop/native-build';

/** `new Poller(batchSize, onEvents, maxRounds?)`: one epoll instance watched by one `uv_poll_t` on the thread's loop. */
export type NativePollerConstructor = new (
  batchSize: number,
  onEvents: (count: number) => void,
  maxRounds?: number,
) => NativePollerHandle;

/** Everything `fdloop_epoll.node` exports that the poller, `sys` and `net` use (`sources` and `uring` have their own modules). */
export interface NativeBinding {
  /** `add`/`mod`/`del` are `EPOLL_CTL_ADD`/`MOD`/`DEL`; a system-call failure in the constructor is thrown with `errno` and `syscall`. */
  readonly Poller: NativePollerConstructor;
  /** The POSIX helpers of native-build's `posix` component. */
  readonly sys: NativePosixSys;
  /** The socket calls of native-build's `posix` component, behind `Backend.net`. */
  readonly sock?: NativePosixSock;
}

/**
 * Load the addon once per thread: a prebuilt binary for this platform if one ships with the package, else the one
 * `npm install` compiled into `build/Release` (a prebuild that fails in dlopen is skipped).
 * @throws AddonLoadError (from `@fdloop/native-build`) explaining how to build the addon, with each location tried
 *   and why it failed.
 */
export const loadNative: () => NativeBinding = addonLoader<NativeBinding>({
  name: '@fdloop/backend-epoll',
  addon: 'fdloop_epoll.node',
  // The package root, whether this file runs from src/ (tests) or dist/ (the published build).
  root: new URL('../', import.meta.url),
  note: process.platform === 'linux' ? undefined : `epoll exists on Linux only; this is ${process.platform}.`,
});
