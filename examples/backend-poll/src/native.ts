/**
 * Loading `fdloop_poll.node` and the exact shape of what it exports. Internal: the public API is in `index.ts`,
 * and `poller.ts` validates arguments and turns `-errno` results into {@link ErrnoError}s.
 *
 * @module
 */

import type { NativePollerHandle } from '@fdloop/core/backend-kit';
import { addonLoader } from '@fdloop/native-build';

/**
 * A native poller: a thread blocked in poll(2), handing results to this thread through one `uv_async_t`. `add`
 * registers `fd` (interest: condition bits only), `mod` replaces its token and interest, `del` removes it and
 * returns once the poll thread no longer holds it (each 0 or `-errno`); `close()` stops and joins the thread.
 */
export type NativePoller = NativePollerHandle;

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

/**
 * Load the addon once per thread: a prebuilt binary for this platform if one ships with the package, else the one
 * `npm install` compiled into `build/Release` (a prebuild that fails in dlopen is skipped).
 * @throws AddonLoadError (from `@fdloop/native-build`) explaining how to build the addon, with each location tried
 *   and why it failed.
 */
export const loadNative: () => NativeBinding = addonLoader<NativeBinding>({
  name: '@fdloop/backend-poll',
  addon: 'fdloop_poll.node',
  root: new URL('../', import.meta.url),
  note: process.platform === 'win32' ? 'poll(2) and pthreads are POSIX-only; this is Windows.' : undefined,
});
