/**
 * Loading `fdloop_iocp.node` and the exact shape of what it exports. Internal: the public API is in `index.ts`,
 * `poller.ts` and `sys.ts`, which validate arguments and turn Windows error codes into `ErrnoError`s.
 *
 * Native calls return `0` (or a non-negative result) on success and a **Win32/WSA error code** on failure:
 * positive from the poller's methods, negated from the `sys` helpers. `errors.ts` maps them to Node's codes.
 *
 * @module
 */

import type { NetConstants, NetSyscalls } from '@fdloop/core';
import type { NativePollerHandle } from '@fdloop/core/backend-kit';
import { addonLoader, defaultAddonLocations, isAddonSyscallError, type AddonSyscallError } from '@fdloop/native-build';

/** Bookkeeping of a native poller, for tests and diagnostics. */
export interface NativePollerStats {
  /** Registered sockets. */
  readonly sockets: number;
  /** Open `\Device\Afd` handles (each serves up to 32 sockets). */
  readonly afdHandles: number;
  /** Operations the kernel owns (AFD polls and file I/O not yet handed back). */
  readonly pending: number;
  /** Completion I/O operations in flight. */
  readonly io: number;
}

/**
 * A native poller: one completion port, one poller thread, one thread-safe function. `add`/`mod`/`del` register,
 * change (re-arming a fired ONESHOT) and deregister a socket, returning 0 or a Win32/WSA error code; `ref`/`unref`
 * ref and unref the thread-safe function; `close` stops the thread, cancels and reclaims every operation and
 * closes the port.
 */
export interface NativeIocpPoller extends NativePollerHandle {
  /** Start an overlapped ReadFile. Returns 0 (one result will follow) or an error code (none will). */
  read(handle: number, buffer: Uint8Array, offset: number, length: number, position: number, token: number): number;
  /** Start an overlapped WriteFile. Same contract as `read`. */
  write(handle: number, buffer: Uint8Array, offset: number, length: number, position: number, token: number): number;
  /** CancelIoEx for the operation of `token`. Returns 0 or ERROR_NOT_FOUND (1168) when none is in flight. */
  cancel(token: number): number;
  /** PostQueuedCompletionStatus: `(token, value)` arrives in a later batch. Returns 0 or an error code. */
  post(token: number, value: number): number;
  /** The same as a source packet: `(token, value + 2^32)`. */
  postSource(token: number, value: number): number;
  /** The completion port's handle value. */
  port(): number;
  /** Create a disarmed thread-pool timer reporting `token`. Returns 0 or an error code. */
  timerCreate(token: number): number;
  /** Arm (`dueMs >= 0`) or disarm; returns the new generation (> 0) or minus an error code. */
  timerSet(token: number, dueMs: number, absoluteRealtime: boolean, periodMs: number): number;
  /** Stop and free a timer (waits for running callbacks). Returns 0 or ERROR_NOT_FOUND. */
  timerClose(token: number): number;
  /** Open process `pid` and wait for its exit, reporting `token` once. Returns 0 or an error code (87: no such process). */
  procOpen(pid: number, token: number): number;
  /** GetExitCodeProcess for the wait of `token`: the unsigned exit code, or minus an error code. */
  procExitCode(token: number): number;
  /** Unregister the wait (waits for a running callback) and close the process handle. Returns 0 or ERROR_NOT_FOUND. */
  procClose(token: number): number;
  /** Watch a directory (or a file, through its directory) with ReadDirectoryChangesW, reporting `token`. Returns a watch id (> 0) or minus an error code. */
  dirAdd(path: string, recursive: boolean, token: number): number;
  /** Stop watching one directory (its memory is freed when the kernel hands the read back). Returns 0. */
  dirRemove(id: number): number;
  /** Every queued change of the set `token`, flattened: `[id, action, name, …]`. */
  dirTake(token: number): Array<number | string>;
  /** Bookkeeping counters. */
  stats(): NativePollerStats;
}

/** `new Poller(batchSize, onEvents)`; throws an Error with `errno` (a Win32 code) and `syscall` on failure. */
export type NativePollerConstructor = new (batchSize: number, onEvents: (count: number) => void) => NativeIocpPoller;

/** The Windows helpers. Results are non-negative, or minus a Win32/WSA error code. */
export interface NativeSys {
  tcpListen(host: string, port: number, backlog: number): number;
  tcpAccept(socket: number): number;
  tcpConnect(host: string, port: number): number;
  socketPair(out: Float64Array): number;
  send(socket: number, buffer: Uint8Array, offset: number, length: number, flags: number): number;
  recv(socket: number, buffer: Uint8Array, offset: number, length: number, flags: number): number;
  closeSocket(socket: number): number;
  socketError(socket: number): number;
  localPort(socket: number): number;
  pipe(out: Float64Array): number;
  openFile(path: string, write: boolean, create: boolean): number;
  closeHandle(handle: number): number;
  /** CreateFileW of a communications device: exclusive, overlapped. A handle or minus an error code. */
  openSerial(path: string): number;
  /** Raw 8N1 at `baudRate`, no flow control. 0 or minus an error code. */
  setCommState(handle: number, baudRate: number): number;
  /** `out = [BaudRate, ByteSize, Parity, StopBits]`. 0 or minus an error code. */
  getCommState(handle: number, out: Float64Array): number;
  /** SetCommTimeouts in COMMTIMEOUTS' field order. 0 or minus an error code. */
  setCommTimeouts(handle: number, readInterval: number, readMultiplier: number, readConstant: number, writeMultiplier: number, writeConstant: number): number;
  /** GetCommTimeouts into `out` (5 values, COMMTIMEOUTS' field order). 0 or minus an error code. */
  getCommTimeouts(handle: number, out: Float64Array): number;
  /** GetCommModemStatus: the MS_*_ON bits, or minus an error code. */
  getCommModemStatus(handle: number): number;
  /** The E* name of a Win32/WSA error code, from the addon's one table (`'UNKNOWN'` when unmapped). */
  errorName(win32: number): string;
  /** Post a source packet to a port from any thread. Returns 0 or minus an error code. */
  postToPort(port: number, token: number, value: number): number;
  /** RtlNtStatusToDosError. */
  ntStatusToWin32(status: number): number;
  readonly constants: { readonly MSG_OOB: number; readonly WSAEWOULDBLOCK: number; readonly WSAENOTCONN: number };
}

/** Winsock values of the addon's `net` object (EAGAIN/EINPROGRESS are set from Node's numbers in `net.ts`). */
export interface NativeNetConstants
  extends Omit<NetConstants, 'EAGAIN' | 'EINPROGRESS'> {
  readonly WSAEWOULDBLOCK: number;
  readonly WSAEINPROGRESS: number;
}

/** The addon's socket calls: {@link NetSyscalls} with results as minus a Win32/WSA code on failure. */
export interface NativeNet extends Omit<NetSyscalls, 'constants'> {
  readonly constants: NativeNetConstants;
}

/**
 * The descriptor side of the completion layer (`native/completion.cc`). Win32 error codes are positive here.
 */
export interface NativeCompletion {
  /** Whether node.exe exports `uv_open_osfhandle` (needed to hand out node:fs descriptors). */
  available(): boolean;
  /**
   * Open `path` (already `path.toNamespacedPath`ed) with Node's numeric `O_*` flags as libuv's `fs__open` maps
   * them: an overlapped handle, plus (with `wantFd`) a node:fs descriptor over a second, synchronous handle.
   * The open runs on the thread pool; `callback` gets `[win32Error, overlappedHandle, fd, fileType]`, and a
   * non-disk file is closed again and reported as `[0, 0, -1, GetFileType()]`.
   */
  open(path: string, flags: number, mode: number, wantFd: boolean, callback: (result: [number, number, number, number]) => void): void;
  /** `GetFileInformationByHandle`: `[win32Error, size, isDirectory (0/1)]`. */
  info(handle: number): [number, number, number];
  /**
   * The file pointer of the handle behind node.exe's C-runtime `fd` (the one node:fs's `position: null` reads and
   * writes use): `[win32Error, position]`; with `position`, moves it there first.
   */
  filePointer(fd: number, position?: number): [number, number];
  /** `CloseHandle` of an overlapped handle `open()` made: 0, or a Win32 error code (`ERROR_INVALID_HANDLE` for any other). */
  closeHandle(handle: number): number;
  /** Test aid: queue a packet with the poller's I/O key and an OVERLAPPED address it never issued. */
  postForeignIo(port: number, address: number): number;
}

/** Everything `fdloop_iocp.node` exports. */
export interface NativeBinding {
  readonly Poller: NativePollerConstructor;
  readonly sys: NativeSys;
  readonly net: NativeNet;
  /** Absent from an addon built before the completion layer existed. */
  readonly completion?: NativeCompletion;
}

/** The shape of errors the native constructor throws when a system call fails. */
export type NativeWinError = AddonSyscallError;

/** Whether `error` is a system-call failure thrown by the addon. */
export const isNativeWinError: (error: unknown) => error is NativeWinError = isAddonSyscallError;

/**
 * Load the addon once per thread: a prebuilt binary, else one built by cmake-js (`build/Release`), else one
 * cross-compiled with mingw-w64 (`build-mingw/Release`); a file that fails to load is skipped.
 * @throws Error off Windows; AddonLoadError (from `@fdloop/native-build`) explaining how to build the addon, with
 *   each location tried and why it failed.
 */
export const loadNative: () => NativeBinding = addonLoader<NativeBinding>({
  name: '@fdloop/backend-iocp',
  addon: 'fdloop_iocp.node',
  root: new URL('../', import.meta.url),
  locations: [...defaultAddonLocations(), 'build-mingw/Release'],
  hint:
    'Build it with `npm rebuild @fdloop/backend-iocp` ' +
    "(needs cmake >= 3.15 and Visual Studio's C++ tools; see the package README).",
  refuse: () =>
    process.platform === 'win32'
      ? undefined
      : `@fdloop/backend-iocp: I/O completion ports exist on Windows only; this is ${process.platform}. ` +
        'On Linux use @fdloop/backend-epoll (this package is tested under Wine by scripts/ci-wine.sh).',
});
