/**
 * The `sys` helpers of the POSIX backends (epoll, kqueue), over the native functions of `@fdloop/native-build`'s
 * `posix` component (`native/fdloop/posix/sys.cc`): pipes, socketpairs, eventfds, ptys and TCP sockets, plus
 * non-blocking `read`/`write`/`send`/`recv`. Each backend builds its `sys` with {@link createPosixSys} over its own
 * addon; the functions, arguments and errors are the same everywhere, and the platform numbers come from the addon.
 *
 * @module
 */

import { isIP } from 'node:net';
import { ErrnoError, InvalidArgumentError, UnsupportedError, describeReceived, errnoError } from '../errors.js';
import { validateFd } from '../runtime.js';
import { validateInteger } from './poller.js';

/** Platform constants of the native `sys` object (from the C headers the addon was compiled against). */
export interface NativePosixConstants {
  /** `EAGAIN` on this platform: the call would block. */
  readonly EAGAIN: number;
  /** `EWOULDBLOCK` (equal to `EAGAIN` on Linux, may differ elsewhere). */
  readonly EWOULDBLOCK: number;
  /** `ENOSYS`: the system call does not exist here. */
  readonly ENOSYS: number;
  /** `send`/`recv` flag: out-of-band data. */
  readonly MSG_OOB: number;
  /** `recv` flag: read without consuming. */
  readonly MSG_PEEK: number;
  /** `send`/`recv` flag: do not block for this call. */
  readonly MSG_DONTWAIT: number;
  /** `socketpair` type: a byte stream. */
  readonly SOCK_STREAM: number;
  /** `socketpair` type: datagrams. */
  readonly SOCK_DGRAM: number;
  /** `socketpair` type: ordered, boundary-keeping packets. */
  readonly SOCK_SEQPACKET: number;
  /** Pty packet-mode control byte: ordinary data follows. */
  readonly TIOCPKT_DATA: number;
  /** Pty packet-mode bit: the read queue was flushed. */
  readonly TIOCPKT_FLUSHREAD: number;
  /** Pty packet-mode bit: the write queue was flushed. */
  readonly TIOCPKT_FLUSHWRITE: number;
  /** Pty packet-mode bit: output was stopped (^S). */
  readonly TIOCPKT_STOP: number;
  /** Pty packet-mode bit: output was restarted (^Q). */
  readonly TIOCPKT_START: number;
  /** Pty packet-mode bit: the stop and start characters are no longer ^S/^Q. */
  readonly TIOCPKT_NOSTOP: number;
  /** Pty packet-mode bit: the stop and start characters are ^S/^Q. */
  readonly TIOCPKT_DOSTOP: number;
}

/** Which Linux-only paths a build of `fdloop/posix/sys.cc` uses (`false`: the portable POSIX fallback). */
export interface NativePosixFeatures {
  /** `pipe2(O_CLOEXEC|O_NONBLOCK)` is used (else `pipe` + `fcntl`). */
  readonly pipe2: boolean;
  /** `SOCK_CLOEXEC|SOCK_NONBLOCK` are passed to `socket`/`socketpair` (else `fcntl`). */
  readonly socketFlags: boolean;
  /** `accept4` is used (else `accept` + `fcntl`). */
  readonly accept4: boolean;
  /** `eventfd(2)` exists (else `eventfd()` answers `ENOSYS`). */
  readonly eventfd: boolean;
  /** `TIOCGPTPEER` opens the pty slave (else by its name). */
  readonly ptyPeer: boolean;
  /** `posix_openpt` takes `O_CLOEXEC`. */
  readonly openptFlags: boolean;
}

/**
 * The native `sys` object of an addon built with native-build's `posix` component. Every function returns a
 * non-negative result or `-errno`; `eventfd` is `-ENOSYS` off Linux.
 */
export interface NativePosixSys {
  /** Fills `out` with `[readFd, writeFd]`; 0 or `-errno`. */
  pipe(out: Int32Array): number;
  /** Fills `out` with two connected sockets of `type`; 0 or `-errno`. */
  socketpair(type: number, out: Int32Array): number;
  /** A new eventfd, or `-errno`. */
  eventfd(initial: number, semaphore: boolean): number;
  /** Bytes read into `buffer[offset..offset+length)`, or `-errno`. */
  read(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  /** Bytes written from `buffer[offset..offset+length)`, or `-errno`. */
  write(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  /** Bytes sent with `flags`, or `-errno`. */
  send(fd: number, buffer: Uint8Array, offset: number, length: number, flags: number): number;
  /** Bytes received with `flags`, or `-errno`. */
  recv(fd: number, buffer: Uint8Array, offset: number, length: number, flags: number): number;
  /** 0 or `-errno`. */
  close(fd: number): number;
  /** Fills `out` with `[masterFd, slaveFd]`; 0 or `-errno`. */
  openpty(out: Int32Array): number;
  /** Turns `TIOCPKT` on or off on a pty master; 0 or `-errno`. */
  ptyPacketMode(fd: number, on: boolean): number;
  /** A listening TCP socket bound to `host:port`, or `-errno`. */
  tcpListen(host: string, port: number, backlog: number): number;
  /** An accepted connection, or `-errno`. */
  tcpAccept(fd: number): number;
  /** A socket connecting (non-blocking) to `host:port`, or `-errno`. */
  tcpConnect(host: string, port: number): number;
  /** The pending `SO_ERROR` (0 or a positive errno), or `-errno` if it could not be read. */
  socketError(fd: number): number;
  /** The local port of a bound socket, or `-errno`. */
  localPort(fd: number): number;
  /** The platform's values of the constants the wrappers need. */
  readonly constants: NativePosixConstants;
  /** Which Linux-only paths this build uses. */
  readonly features: NativePosixFeatures;
}

/** The kind of socket {@link PosixSys.socketpair} creates. */
export type SocketPairType = 'stream' | 'dgram' | 'seqpacket';

/** Options of {@link PosixSys.eventfd}. */
export interface EventfdOptions {
  /**
   * Semaphore semantics: each read returns 1 and decrements the counter by one, instead of returning the whole
   * counter and resetting it. Defaults to `false`.
   */
  readonly semaphore?: boolean;
}

/** A listening TCP socket created by {@link PosixSys.tcpListen}. */
export interface TcpListener {
  /** The listening descriptor. */
  readonly fd: number;
  /** The port it is bound to (the one the kernel picked when port `0` was asked for). */
  readonly port: number;
}

/** A new pseudo-terminal created by {@link PosixSys.openpty}. */
export interface Pty {
  /** The master side: what a terminal emulator reads and writes. */
  readonly master: number;
  /** The slave side: the terminal a program runs on. */
  readonly slave: number;
}

/**
 * The status bits of the first byte a pty master returns in packet mode (see {@link PosixSys.ptyPacketMode}), the
 * same on Linux, macOS and the BSDs. A first byte of `DATA` (0) means the rest is ordinary output.
 */
export interface PtyPacketFlags {
  /** Ordinary data follows. */
  readonly DATA: 0;
  /** The terminal's input queue was flushed. */
  readonly FLUSHREAD: 1;
  /** The terminal's output queue was flushed. */
  readonly FLUSHWRITE: 2;
  /** Output was stopped (`^S`). */
  readonly STOP: 4;
  /** Output was restarted (`^Q`). */
  readonly START: 8;
  /** Software flow control was switched off. */
  readonly NOSTOP: 16;
  /** Software flow control was switched on. */
  readonly DOSTOP: 32;
}

/** The {@link PtyPacketFlags} values. */
export const PTY_PACKET: PtyPacketFlags = Object.freeze({
  DATA: 0,
  FLUSHREAD: 1,
  FLUSHWRITE: 2,
  STOP: 4,
  START: 8,
  NOSTOP: 16,
  DOSTOP: 32,
});

/**
 * Small POSIX helpers for creating and using descriptors a runtime can watch. Every descriptor they create is
 * non-blocking and close-on-exec (atomically where the system allows it, else with `fcntl` right after creation),
 * and no socket they create raises `SIGPIPE`.
 *
 * I/O functions return the byte count, or {@link PosixSys.WOULD_BLOCK} when the call would block (`EAGAIN`), so a
 * watcher can read until it sees it. Every other failure throws an {@link ErrnoError} shaped like Node's
 * (`code: 'EBADF'`, `syscall: 'read'`, `fd`); invalid arguments throw an {@link InvalidArgumentError}.
 *
 * @example
 * ```ts
 * import { sys } from '@fdloop/backend-epoll';
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
export interface PosixSys {
  /** What the I/O functions and {@link PosixSys.tcpAccept} return when the call would block: `-1`. */
  readonly WOULD_BLOCK: -1;
  /** `send`/`recv` flag: TCP urgent (out-of-band) data; the receiver sees `Ready.PRIORITY`. `1` on every POSIX system. */
  readonly MSG_OOB: number;
  /** `recv` flag: return data without removing it from the queue. `2` on every POSIX system. */
  readonly MSG_PEEK: number;
  /**
   * `send`/`recv` flag: do not block for this call (every descriptor created here is non-blocking already).
   * Platform-specific (`0x40` on Linux, `0x80` on macOS and the BSDs), so it is read from the addon, which is
   * loaded on first use.
   */
  readonly MSG_DONTWAIT: number;
  /** See {@link PtyPacketFlags}. */
  readonly PTY_PACKET: PtyPacketFlags;
  /**
   * Create a pipe (`pipe2(O_NONBLOCK | O_CLOEXEC)` where it exists; `pipe` then `fcntl` on macOS).
   * @returns `[readFd, writeFd]`
   * @throws ErrnoError `EMFILE` when the process is out of descriptors.
   */
  pipe(): [readFd: number, writeFd: number];
  /**
   * Create a connected pair of Unix-domain sockets (`socketpair(AF_UNIX, …)`).
   * @param type the socket type. Defaults to `'stream'`. (`'seqpacket'` is `EPROTONOSUPPORT` on macOS.)
   * @returns `[a, b]`: what is written to one end is read from the other.
   * @throws ErrnoError with `syscall: 'socketpair'`.
   */
  socketpair(type?: SocketPairType): [number, number];
  /**
   * Create an eventfd (`EFD_NONBLOCK | EFD_CLOEXEC`, Linux only): a 64-bit counter that is readable while it is
   * non-zero. Write an 8-byte native-endian integer to add to it; a read returns the counter and resets it (or
   * decrements it by one with `semaphore`).
   * @param initial the counter's initial value, 0 to 2^32 - 1. Defaults to `0`.
   * @param options see {@link EventfdOptions}.
   * @returns the descriptor.
   * @throws UnsupportedError (`feature: 'eventfd'`, `cause`: the `ENOSYS` ErrnoError) where the system has no
   *   eventfd and the backend said so ({@link PosixSysOptions.eventfdUnsupported}).
   */
  eventfd(initial?: number, options?: EventfdOptions): number;
  /**
   * Read from a descriptor without blocking. `EINTR` is retried.
   * @param offset where in `buffer` to start storing. Defaults to `0`.
   * @param length how many bytes to read at most. Defaults to `buffer.byteLength - offset`.
   * @returns the number of bytes read, `0` at end of file, or {@link PosixSys.WOULD_BLOCK} if nothing is available.
   * @throws ErrnoError with `syscall: 'read'` for any other failure (`EBADF`, `EIO`…).
   */
  read(fd: number, buffer: Uint8Array, offset?: number, length?: number): number;
  /**
   * Write to a descriptor without blocking. `EINTR` is retried.
   * @param offset where in `buffer` the data starts. Defaults to `0`.
   * @param length how many bytes to write. Defaults to `buffer.byteLength - offset`.
   * @returns the number of bytes written (possibly fewer than asked), or {@link PosixSys.WOULD_BLOCK} if none fit.
   * @throws ErrnoError with `syscall: 'write'` for any other failure (`EPIPE` when the reader is gone, `EBADF`…).
   */
  write(fd: number, buffer: Uint8Array, offset?: number, length?: number): number;
  /**
   * Send the whole of `buffer` on a socket. A closed peer is an `EPIPE` error, never a `SIGPIPE` (`MSG_NOSIGNAL`
   * where it exists; `SO_NOSIGPIPE`, set on every socket created here, on macOS).
   * @param flags `send(2)` flags such as {@link PosixSys.MSG_OOB}. Defaults to `0`.
   * @returns the number of bytes sent, or {@link PosixSys.WOULD_BLOCK}.
   * @throws ErrnoError with `syscall: 'send'` for any other failure.
   */
  send(fd: number, buffer: Uint8Array, flags?: number): number;
  /**
   * Receive from a socket into `buffer`.
   * @param flags `recv(2)` flags such as {@link PosixSys.MSG_OOB} or {@link PosixSys.MSG_PEEK}. Defaults to `0`.
   * @returns the number of bytes received, `0` when the peer has shut down, or {@link PosixSys.WOULD_BLOCK}.
   * @throws ErrnoError with `syscall: 'recv'` for any other failure (`EINVAL` for {@link PosixSys.MSG_OOB} when no
   *   urgent byte is pending).
   */
  recv(fd: number, buffer: Uint8Array, flags?: number): number;
  /**
   * Close a descriptor. An `EINTR` from `close(2)` counts as success: Linux has released the descriptor by then,
   * and retrying could close one that another thread just opened.
   * @throws ErrnoError with `syscall: 'close'`: `EBADF` if `fd` is not open.
   */
  close(fd: number): void;
  /**
   * Create a pseudo-terminal pair, both ends non-blocking and close-on-exec, with the default terminal settings
   * (canonical mode, echo on). The slave is opened through the master where the system can (`TIOCGPTPEER`), else
   * by name (`ptsname_r`; `TIOCPTYGNAME` on macOS).
   * @throws ErrnoError with `syscall: 'openpty'`.
   */
  openpty(): Pty;
  /**
   * Switch a pty master's packet mode (`ioctl(TIOCPKT)`). In packet mode every read from the master starts with a
   * status byte ({@link PosixSys.PTY_PACKET}), and status changes such as output stopped by `^S` make the master
   * report `Ready.PRIORITY`.
   * @throws ErrnoError with `syscall: 'ioctl'`: `ENOTTY` if `masterFd` is not a pty master.
   */
  ptyPacketMode(masterFd: number, on: boolean): void;
  /**
   * Create a non-blocking TCP listening socket with `SO_REUSEADDR`.
   * @param host an IPv4 or IPv6 address literal to bind to (no host names). Defaults to `'127.0.0.1'`.
   * @param port the port; `0` lets the kernel pick a free one. Defaults to `0`.
   * @param backlog the length of the queue of pending connections. Defaults to `511`, as in Node's `net`.
   * @throws ErrnoError with `syscall: 'listen'` (`EADDRINUSE`, `EACCES`…), as in Node's `net`.
   */
  tcpListen(host?: string, port?: number, backlog?: number): TcpListener;
  /**
   * Accept a pending connection, non-blocking and close-on-exec (`accept4` where it exists).
   * @returns the connected descriptor, or {@link PosixSys.WOULD_BLOCK} when no connection is pending.
   * @throws ErrnoError with `syscall: 'accept'`.
   */
  tcpAccept(listenFd: number): number;
  /**
   * Start a non-blocking TCP connection. It usually completes later: watch the descriptor for
   * `Interest.WRITABLE`, then call {@link PosixSys.socketError} to learn whether it succeeded.
   * @param host an IPv4 or IPv6 address literal (no host names).
   * @returns the connecting descriptor.
   * @throws ErrnoError with `syscall: 'connect'` for an immediate failure (`ENETUNREACH`…).
   */
  tcpConnect(host: string, port: number): number;
  /**
   * The error pending on a socket (`getsockopt(SO_ERROR)`), which also clears it. After a non-blocking
   * {@link PosixSys.tcpConnect} became writable, `null` means the connection is established.
   * @returns an {@link ErrnoError} with `syscall: 'connect'` (for example `ECONNREFUSED`), or `null`.
   * @throws ErrnoError with `syscall: 'getsockopt'` if the error cannot be read (`EBADF`, `ENOTSOCK`).
   */
  socketError(fd: number): ErrnoError | null;
}

/** Options of {@link createPosixSys}. */
export interface PosixSysOptions {
  /** The backend's name, for {@link UnsupportedError}s. */
  readonly backend: string;
  /** The `syscall` of `pipe()` errors: `'pipe2'` where the addon uses it. Defaults to `'pipe'`. */
  readonly pipeSyscall?: string;
  /**
   * Where eventfd does not exist (the native call answers `ENOSYS`): what to use instead, said by the
   * {@link UnsupportedError} `eventfd()` then throws. Without it, `ENOSYS` is an {@link ErrnoError} like any other.
   */
  readonly eventfdUnsupported?: string;
}

function bytes(buffer: unknown): Uint8Array {
  if (!(buffer instanceof Uint8Array)) {
    throw new InvalidArgumentError('buffer', `must be a Uint8Array or Buffer, got ${describeReceived(buffer)}`);
  }
  return buffer;
}

function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidArgumentError(name, `must be a boolean, got ${describeReceived(value)}`);
  return value;
}

/** The start of an I/O range: `offset`, validated, or `0`. */
function rangeStart(buffer: Uint8Array, offset: unknown): number {
  return offset === undefined ? 0 : validateInteger('offset', offset, 0, buffer.byteLength);
}

/** The length of an I/O range: `length`, validated, or the rest of the buffer after `start`. */
function rangeLength(buffer: Uint8Array, start: number, length: unknown): number {
  return length === undefined ? buffer.byteLength - start : validateInteger('length', length, 0, buffer.byteLength - start);
}

function address(host: unknown, port: unknown, minPort: number): [string, number] {
  // Literals only: resolving a name would block the thread. A scope id (`fe80::1%eth0`) is not supported.
  if (typeof host !== 'string' || isIP(host) === 0 || host.includes('%')) {
    throw new InvalidArgumentError('host', `must be an IPv4 or IPv6 address literal, got ${describeReceived(host)}`);
  }
  return [host, validateInteger('port', port, minPort, 65535)];
}

function check(rc: number, syscall: string, detail?: { fd?: number }): number {
  if (rc < 0) throw errnoError(rc, syscall, detail);
  return rc;
}

function pair(out: Int32Array): [number, number] {
  return [out[0] as number, out[1] as number];
}

/**
 * The {@link PosixSys} helpers over the native functions `native()` returns. `native` is called on every use, so a
 * backend can load its addon lazily (on first use, once per thread).
 *
 * @example
 * ```ts
 * import { createPosixSys } from '@fdloop/core/backend-kit';
 *
 * export const sys = createPosixSys(() => loadNative().sys, { backend: 'kqueue', eventfdUnsupported: 'use rt.notifier()' });
 * ```
 */
export function createPosixSys(native: () => NativePosixSys, options: PosixSysOptions): PosixSys {
  const pipeSyscall = options.pipeSyscall ?? 'pipe';
  // EAGAIN and EWOULDBLOCK of the addon's headers (the same number on Linux), as negative results; read once.
  let wouldBlock: [number, number] | undefined;

  function io(rc: number, syscall: string, fd: number): number {
    if (rc >= 0) return rc;
    if (wouldBlock === undefined) {
      const { EAGAIN, EWOULDBLOCK } = native().constants;
      wouldBlock = [-EAGAIN, -EWOULDBLOCK];
    }
    if (rc === wouldBlock[0] || rc === wouldBlock[1]) return -1;
    throw errnoError(rc, syscall, { fd });
  }

  const sys: PosixSys = {
    WOULD_BLOCK: -1,
    MSG_OOB: 0x1,
    MSG_PEEK: 0x2,
    get MSG_DONTWAIT(): number {
      return native().constants.MSG_DONTWAIT;
    },
    PTY_PACKET,
    pipe() {
      const out = new Int32Array(2);
      check(native().pipe(out), pipeSyscall);
      return pair(out);
    },
    socketpair(type: SocketPairType = 'stream') {
      const n = native();
      const kinds: Record<SocketPairType, number> = {
        stream: n.constants.SOCK_STREAM,
        dgram: n.constants.SOCK_DGRAM,
        seqpacket: n.constants.SOCK_SEQPACKET,
      };
      if (!Object.hasOwn(kinds, type)) {
        throw new InvalidArgumentError('type', `must be 'stream', 'dgram' or 'seqpacket', got ${describeReceived(type)}`);
      }
      const out = new Int32Array(2);
      check(n.socketpair(kinds[type], out), 'socketpair');
      return pair(out);
    },
    eventfd(initial = 0, eventfdOptions?: EventfdOptions) {
      const value = validateInteger('initial', initial, 0, 0xffffffff);
      const semaphore = boolean('options.semaphore', eventfdOptions?.semaphore ?? false);
      const n = native();
      const rc = n.eventfd(value, semaphore);
      if (rc >= 0) return rc;
      const error = errnoError(rc, 'eventfd');
      if (options.eventfdUnsupported === undefined || rc !== -n.constants.ENOSYS) throw error;
      throw Object.assign(
        new UnsupportedError(options.backend, 'eventfd', `eventfd exists on Linux only; ${options.eventfdUnsupported}`),
        { cause: error },
      );
    },
    read(fd, buffer, offset, length) {
      validateFd(fd);
      const start = rangeStart(bytes(buffer), offset);
      const count = rangeLength(buffer, start, length);
      return io(native().read(fd, buffer, start, count), 'read', fd);
    },
    write(fd, buffer, offset, length) {
      validateFd(fd);
      const start = rangeStart(bytes(buffer), offset);
      const count = rangeLength(buffer, start, length);
      return io(native().write(fd, buffer, start, count), 'write', fd);
    },
    send(fd, buffer, flags = 0) {
      validateFd(fd);
      const data = bytes(buffer);
      const bits = validateInteger('flags', flags, 0, 0x7fffffff);
      return io(native().send(fd, data, 0, data.byteLength, bits), 'send', fd);
    },
    recv(fd, buffer, flags = 0) {
      validateFd(fd);
      const data = bytes(buffer);
      const bits = validateInteger('flags', flags, 0, 0x7fffffff);
      return io(native().recv(fd, data, 0, data.byteLength, bits), 'recv', fd);
    },
    close(fd) {
      validateFd(fd);
      check(native().close(fd), 'close', { fd });
    },
    openpty() {
      const out = new Int32Array(2);
      check(native().openpty(out), 'openpty');
      return { master: out[0] as number, slave: out[1] as number };
    },
    ptyPacketMode(masterFd, on) {
      validateFd(masterFd);
      check(native().ptyPacketMode(masterFd, boolean('on', on)), 'ioctl', { fd: masterFd });
    },
    tcpListen(host = '127.0.0.1', port = 0, backlog = 511) {
      const [ip, portNumber] = address(host, port, 0);
      const depth = validateInteger('backlog', backlog, 0, 0x7fffffff);
      const n = native();
      const fd = check(n.tcpListen(ip, portNumber, depth), 'listen');
      const bound = n.localPort(fd);
      if (bound < 0) {
        // Ignored on purpose: the getsockname failure is the error worth reporting, and a close failure would only
        // hide it.
        n.close(fd);
        throw errnoError(bound, 'getsockname', { fd });
      }
      return { fd, port: bound };
    },
    tcpAccept(listenFd) {
      validateFd(listenFd);
      return io(native().tcpAccept(listenFd), 'accept', listenFd);
    },
    tcpConnect(host, port) {
      const [ip, portNumber] = address(host, port, 1);
      return check(native().tcpConnect(ip, portNumber), 'connect');
    },
    socketError(fd) {
      validateFd(fd);
      const rc = check(native().socketError(fd), 'getsockopt', { fd });
      return rc === 0 ? null : errnoError(rc, 'connect', { fd });
    },
  };
  return Object.freeze(sys);
}
