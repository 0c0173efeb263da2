/**
 * Loading `fdloop_kqueue.node` and the exact shape of what it exports. Internal: the public API is in `index.ts`,
 * which validates arguments and turns `-errno` results into {@link ErrnoError}s.
 *
 * @module
 */

import type { NetConstants, NetSyscalls } from '@fdloop/core';
import { isAddonSyscallError, loadAddon, type AddonSyscallError } from '@fdloop/native-build';

/** A native poller: one kqueue watched by one `uv_poll_t` on the creating thread's loop. */
export interface NativePoller {
  /** `2 * batchSize` doubles of `(token, flags)` pairs, valid inside `onEvents`. */
  readonly events: Float64Array;
  /** `EV_ADD` of the interest's filters. Returns 0 or `-errno` (`-EEXIST` if `fd` is registered already). */
  add(fd: number, token: number, interest: number): number;
  /** Change the filters, mode and token of a registered `fd`; re-arms ONESHOT. Returns 0 or `-errno`. */
  mod(fd: number, token: number, interest: number): number;
  /** `EV_DELETE` of every filter of `fd`. Returns 0 or `-errno`. */
  del(fd: number): number;
  /** Let the poll handle keep the loop alive (`uv_ref`). */
  ref(): void;
  /** Stop the poll handle from keeping the loop alive (`uv_unref`). The initial state. */
  unref(): void;
  /** Stop polling and close the kqueue descriptor. Idempotent. */
  close(): void;
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
) => NativePoller;

/** Platform constants of the shared POSIX helpers (from the C headers the addon was compiled against). */
export interface NativeSysConstants {
  readonly EAGAIN: number;
  readonly EWOULDBLOCK: number;
  readonly ENOSYS: number;
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

/** Which Linux-only paths of `posix/sys.cc` a build uses (`false`: the portable POSIX fallback). */
export interface NativeSysFeatures {
  readonly pipe2: boolean;
  readonly socketFlags: boolean;
  readonly accept4: boolean;
  readonly eventfd: boolean;
  readonly ptyPeer: boolean;
  readonly openptFlags: boolean;
}

/**
 * The POSIX helpers shared with `@fdloop/backend-epoll` (`posix/sys.cc`). Every function returns a non-negative
 * result or `-errno`; `eventfd` is `-ENOSYS` off Linux.
 */
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
  readonly constants: NativeSysConstants;
  readonly features: NativeSysFeatures;
}

/** The socket functions shared with `@fdloop/backend-epoll` (`posix/sock.cc`): {@link NetSyscalls} without `read`, `close`, `socketError`. */
export type NativeSock = Omit<NetSyscalls, 'read' | 'close' | 'socketError'> & { readonly constants: NetConstants };

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
  /** The shared POSIX helpers (pipes, socketpairs, ptys, TCP). */
  readonly sys: NativeSys;
  /** The shared socket system calls behind `Backend.net`. */
  readonly sock: NativeSock;
}

/** The shape of errors the native constructor throws when a system call fails. */
export type NativeErrnoError = AddonSyscallError;

/** Whether `error` is a system-call failure thrown by the addon (as opposed to an argument error). */
export const isNativeErrnoError: (error: unknown) => error is NativeErrnoError = isAddonSyscallError;

// Module state is per thread: a worker_thread that imports this package gets its own copy, and Node loads the
// addon into each environment separately.
let binding: NativeBinding | undefined;

/**
 * Load the addon once per thread from `build/Release`, where `npm install` compiled it.
 * @throws Error off macOS/FreeBSD (kqueue does not exist there); AddonLoadError (from `@fdloop/native-build`)
 *   explaining how to build the addon, with the file tried and why it failed.
 */
export function loadNative(): NativeBinding {
  if (binding !== undefined) return binding;
  const kqueuePlatform = process.platform === 'darwin' || process.platform === 'freebsd';
  if (!kqueuePlatform) {
    throw new Error(
      `@fdloop/backend-kqueue: kqueue exists on macOS and FreeBSD; this is ${process.platform}` +
        (process.platform === 'linux' ? ' (use @fdloop/backend-epoll).' : '.'),
    );
  }
  binding = loadAddon<NativeBinding>({
    name: '@fdloop/backend-kqueue',
    addon: 'fdloop_kqueue.node',
    root: new URL('../', import.meta.url),
    // No prebuilds ship for kqueue platforms; `npm install` compiles.
    locations: ['build/Release'],
  });
  return binding;
}
