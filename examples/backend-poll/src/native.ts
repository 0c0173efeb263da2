/**
 * Loading `fdloop_poll.node` and the exact shape of what it exports. Internal: the public API is in `index.ts`,
 * and `poller.ts` validates arguments and turns `-errno` results into {@link ErrnoError}s.
 *
 * @module
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

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
export interface NativeErrnoError extends Error {
  readonly errno: number;
  readonly syscall: string;
}

/** Whether `error` is a system-call failure thrown by the addon (as opposed to an argument error). */
export function isNativeErrnoError(error: unknown): error is NativeErrnoError {
  return (
    error instanceof Error &&
    typeof (error as Partial<NativeErrnoError>).errno === 'number' &&
    typeof (error as Partial<NativeErrnoError>).syscall === 'string'
  );
}

const ADDON = 'fdloop_poll.node';

// Module state is per thread: a worker_thread that imports this package gets its own copy, and Node loads the
// addon into each environment separately.
let binding: NativeBinding | undefined;

/**
 * Load the addon once per thread: a prebuilt binary for this platform if one ships with the package, else the one
 * `npm install` compiled into `build/Release`.
 * @throws Error explaining how to build the addon, with each location tried and why it failed.
 */
export function loadNative(): NativeBinding {
  if (binding !== undefined) return binding;
  // The package root, whether this file runs from src/ (tests) or dist/ (the published build).
  const root = new URL('../', import.meta.url);
  const require = createRequire(import.meta.url);
  const candidates = [`prebuilds/${process.platform}-${process.arch}/${ADDON}`, `build/Release/${ADDON}`];
  const failures: string[] = [];
  let cause: unknown;
  for (const candidate of candidates) {
    const file = fileURLToPath(new URL(candidate, root));
    if (!existsSync(file)) {
      failures.push(`${file}: not found`);
      continue;
    }
    try {
      binding = require(file) as NativeBinding;
      return binding;
    } catch (error) {
      cause = error;
      failures.push(`${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const platform = process.platform === 'win32' ? ' poll(2) and pthreads are POSIX-only; this is Windows.' : '';
  throw new Error(
    `@fdloop/backend-poll: the native addon could not be loaded.${platform} ` +
      'Build it with `npm rebuild @fdloop/backend-poll` (needs cmake >= 3.15, a C++17 compiler and ' +
      "Node's headers; see the package README).\n  " +
      failures.join('\n  '),
    { cause },
  );
}
