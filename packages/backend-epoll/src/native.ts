/**
 * Loading `fdloop_epoll.node` and the exact shape of what it exports. Internal: the public API is in `index.ts`
 * and `sys.ts`, which validate arguments and turn `-errno` results into {@link ErrnoError}s.
 *
 * @module
 */

import { isAddonSyscallError, loadAddon, type AddonSyscallError } from '@fdloop/native-build';

/** A native poller: one epoll instance watched by one `uv_poll_t` on the creating thread's loop. */
export interface NativePoller {
  /** `2 * batchSize` doubles of `(token, flags)` pairs, valid inside `onEvents`. */
  readonly events: Float64Array;
  /** `EPOLL_CTL_ADD`. Returns 0 or `-errno`. */
  add(fd: number, token: number, interest: number): number;
  /** `EPOLL_CTL_MOD`. Returns 0 or `-errno`. */
  mod(fd: number, token: number, interest: number): number;
  /** `EPOLL_CTL_DEL`. Returns 0 or `-errno`. */
  del(fd: number): number;
  /** Let the poll handle keep the loop alive (`uv_ref`). */
  ref(): void;
  /** Stop the poll handle from keeping the loop alive (`uv_unref`). The initial state. */
  unref(): void;
  /** Stop polling and close the epoll descriptor. Idempotent. */
  close(): void;
}

/** `new Poller(batchSize, onEvents, maxRounds?)`; throws an Error with `errno` and `syscall` if a call fails. */
export type NativePollerConstructor = new (
  batchSize: number,
  onEvents: (count: number) => void,
  maxRounds?: number,
) => NativePoller;

/** Platform constants reported by the addon (from the C headers it was compiled against). */
export interface NativeConstants {
  readonly EAGAIN: number;
  readonly EWOULDBLOCK: number;
  readonly MSG_OOB: number;
  readonly MSG_PEEK: number;
  readonly MSG_DONTWAIT: number;
  readonly SOCK_STREAM: number;
  readonly SOCK_DGRAM: number;
  readonly SOCK_SEQPACKET: number;
  readonly TIOCPKT_DATA: number;
  readonly TIOCPKT_FLUSHREAD: number;
  readonly TIOCPKT_FLUSHWRITE: number;
  readonly TIOCPKT_STOP: number;
  readonly TIOCPKT_START: number;
  readonly TIOCPKT_NOSTOP: number;
  readonly TIOCPKT_DOSTOP: number;
}

/** The native POSIX helpers. Every function returns a non-negative result or `-errno`. */
export interface NativeSys {
  pipe(out: Int32Array): number;
  socketpair(type: number, out: Int32Array): number;
  eventfd(initial: number, semaphore: boolean): number;
  read(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  write(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  send(fd: number, buffer: Uint8Array, offset: number, length: number, flags: number): number;
  recv(fd: number, buffer: Uint8Array, offset: number, length: number, flags: number): number;
  close(fd: number): number;
  openpty(out: Int32Array): number;
  ptyPacketMode(fd: number, on: boolean): number;
  tcpListen(host: string, port: number, backlog: number): number;
  tcpAccept(fd: number): number;
  tcpConnect(host: string, port: number): number;
  /** The pending `SO_ERROR` (0 or a positive errno), or `-errno` if it could not be read. */
  socketError(fd: number): number;
  localPort(fd: number): number;
  readonly constants: NativeConstants;
}

/** Everything `fdloop_epoll.node` exports. */
export interface NativeBinding {
  readonly Poller: NativePollerConstructor;
  readonly sys: NativeSys;
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
    name: '@fdloop/backend-epoll',
    addon: 'fdloop_epoll.node',
    // The package root, whether this file runs from src/ (tests) or dist/ (the published build).
    root: new URL('../', import.meta.url),
    note: process.platform === 'linux' ? undefined : `epoll exists on Linux only; this is ${process.platform}.`,
  });
  return binding;
}
