/**
 * The `sys` helpers of the kqueue backend: pipes, socketpairs, ptys and TCP sockets, plus non-blocking
 * `read`/`write`/`send`/`recv`, over the native functions this addon shares with `@fdloop/backend-epoll`
 * (`native/posix/sys.cc`). The same functions, arguments and errors as backend-epoll's `sys`, except that every
 * platform number (`EAGAIN`, `MSG_DONTWAIT`) comes from the addon instead of Linux's headers, and
 * {@link PosixSys.eventfd} throws an {@link UnsupportedError} (there is no eventfd on macOS or FreeBSD; use
 * `rt.notifier()`, which is `EVFILT_USER` here).
 *
 * @module
 */

import { isIP } from 'node:net';
import { ErrnoError, InvalidArgumentError, describeReceived, UnsupportedError, errnoError, validateFd } from '@fdloop/core';
import type { NativeSys } from './native.js';

/** The kind of socket {@link PosixSys.socketpair} creates. */
export type SocketPairType = 'stream' | 'dgram' | 'seqpacket';

/** Options of {@link PosixSys.eventfd}. */
export interface EventfdOptions {
  /** Semaphore semantics (Linux only). Defaults to `false`. */
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

/** The status bits of the first byte a pty master returns in packet mode (the same on Linux, macOS and the BSDs). */
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

/**
 * Small POSIX helpers for creating and using descriptors a runtime can watch. Every descriptor they create is
 * non-blocking and close-on-exec (atomically where the system allows it, else with `fcntl` right after creation),
 * and no socket they create raises `SIGPIPE`.
 *
 * I/O functions return the byte count, or {@link PosixSys.WOULD_BLOCK} when the call would block (`EAGAIN`).
 * Every other failure throws an {@link ErrnoError} shaped like Node's (`code: 'EBADF'`, `syscall: 'read'`, `fd`);
 * invalid arguments throw an {@link InvalidArgumentError}.
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
export interface PosixSys {
  /** What the I/O functions and {@link PosixSys.tcpAccept} return when the call would block: `-1`. */
  readonly WOULD_BLOCK: -1;
  /** `send`/`recv` flag: TCP urgent (out-of-band) data. `1` on every POSIX system. */
  readonly MSG_OOB: number;
  /** `recv` flag: return data without removing it from the queue. `2` on every POSIX system. */
  readonly MSG_PEEK: number;
  /**
   * `send`/`recv` flag: do not block for this call (every descriptor created here is non-blocking already).
   * Platform-specific (`0x80` on macOS and the BSDs), so it is read from the addon, which is loaded on first use.
   */
  readonly MSG_DONTWAIT: number;
  /** See {@link PtyPacketFlags}. */
  readonly PTY_PACKET: PtyPacketFlags;
  /**
   * Create a pipe (`pipe2(O_NONBLOCK | O_CLOEXEC)` on FreeBSD; `pipe` then `fcntl` on macOS).
   * @returns `[readFd, writeFd]`
   * @throws ErrnoError with `syscall: 'pipe'`: `EMFILE` when the process is out of descriptors.
   */
  pipe(): [readFd: number, writeFd: number];
  /**
   * Create a connected pair of Unix-domain sockets.
   * @param type the socket type. Defaults to `'stream'`. (`'seqpacket'` is `EPROTONOSUPPORT` on macOS.)
   * @returns `[a, b]`: what is written to one end is read from the other.
   * @throws ErrnoError with `syscall: 'socketpair'`.
   */
  socketpair(type?: SocketPairType): [number, number];
  /**
   * eventfd exists on Linux only: this always throws (after checking its arguments), on macOS and FreeBSD alike.
   * A cross-thread wake-up here is `rt.notifier()` (`EVFILT_USER`).
   * @param initial the counter's initial value (0 to 2^32 - 1). Defaults to `0`.
   * @param options see {@link EventfdOptions}.
   * @throws UnsupportedError (`ERR_FDLOOP_UNSUPPORTED`, `feature: 'eventfd'`, `cause`: the `ENOSYS` ErrnoError).
   */
  eventfd(initial?: number, options?: EventfdOptions): never;
  /**
   * Read from a descriptor without blocking. `EINTR` is retried.
   * @param offset where in `buffer` to start storing. Defaults to `0`.
   * @param length how many bytes to read at most. Defaults to `buffer.byteLength - offset`.
   * @returns the number of bytes read, `0` at end of file, or {@link PosixSys.WOULD_BLOCK}.
   * @throws ErrnoError with `syscall: 'read'` for any other failure.
   */
  read(fd: number, buffer: Uint8Array, offset?: number, length?: number): number;
  /**
   * Write to a descriptor without blocking. `EINTR` is retried.
   * @param offset where in `buffer` the data starts. Defaults to `0`.
   * @param length how many bytes to write. Defaults to `buffer.byteLength - offset`.
   * @returns the number of bytes written (possibly fewer), or {@link PosixSys.WOULD_BLOCK} if none fit.
   * @throws ErrnoError with `syscall: 'write'` (`EPIPE` when the reader is gone, `EBADF`…).
   */
  write(fd: number, buffer: Uint8Array, offset?: number, length?: number): number;
  /**
   * Send the whole of `buffer` on a socket. A closed peer is an `EPIPE` error, never a `SIGPIPE` (`MSG_NOSIGNAL`
   * on FreeBSD; `SO_NOSIGPIPE`, set on every socket created here, on macOS).
   * @param flags `send(2)` flags such as {@link PosixSys.MSG_OOB}. Defaults to `0`.
   * @returns the number of bytes sent, or {@link PosixSys.WOULD_BLOCK}.
   * @throws ErrnoError with `syscall: 'send'`.
   */
  send(fd: number, buffer: Uint8Array, flags?: number): number;
  /**
   * Receive from a socket into `buffer`.
   * @param flags `recv(2)` flags such as {@link PosixSys.MSG_OOB} or {@link PosixSys.MSG_PEEK}. Defaults to `0`.
   * @returns the number of bytes received, `0` when the peer has shut down, or {@link PosixSys.WOULD_BLOCK}.
   * @throws ErrnoError with `syscall: 'recv'`.
   */
  recv(fd: number, buffer: Uint8Array, flags?: number): number;
  /**
   * Close a descriptor (an `EINTR` from `close(2)` counts as success).
   * @throws ErrnoError with `syscall: 'close'`: `EBADF` if `fd` is not open.
   */
  close(fd: number): void;
  /**
   * Create a pseudo-terminal pair, both ends non-blocking and close-on-exec, with the default terminal settings.
   * The slave is opened by name (`ptsname_r`; `TIOCPTYGNAME` on macOS).
   * @throws ErrnoError with `syscall: 'openpty'`.
   */
  openpty(): Pty;
  /**
   * Switch a pty master's packet mode (`ioctl(TIOCPKT)`): every read from the master then starts with a status
   * byte ({@link PosixSys.PTY_PACKET}).
   * @throws ErrnoError with `syscall: 'ioctl'`: `ENOTTY` if `masterFd` is not a pty master.
   */
  ptyPacketMode(masterFd: number, on: boolean): void;
  /**
   * Create a non-blocking TCP listening socket with `SO_REUSEADDR`.
   * @param host an IPv4 or IPv6 address literal (no host names). Defaults to `'127.0.0.1'`.
   * @param port the port; `0` lets the kernel pick one. Defaults to `0`.
   * @param backlog the length of the queue of pending connections. Defaults to `511`.
   * @throws ErrnoError with `syscall: 'listen'` (`EADDRINUSE`…).
   */
  tcpListen(host?: string, port?: number, backlog?: number): TcpListener;
  /**
   * Accept a pending connection (`accept4` on FreeBSD; `accept` then `fcntl` on macOS).
   * @returns the connected descriptor, or {@link PosixSys.WOULD_BLOCK} when none is pending.
   * @throws ErrnoError with `syscall: 'accept'`.
   */
  tcpAccept(listenFd: number): number;
  /**
   * Start a non-blocking TCP connection; watch for `Interest.WRITABLE`, then call {@link PosixSys.socketError}.
   * @param host an IPv4 or IPv6 address literal (no host names).
   * @throws ErrnoError with `syscall: 'connect'` for an immediate failure.
   */
  tcpConnect(host: string, port: number): number;
  /**
   * The error pending on a socket (`getsockopt(SO_ERROR)`), which also clears it.
   * @returns an {@link ErrnoError} with `syscall: 'connect'` (for example `ECONNREFUSED`), or `null`.
   * @throws ErrnoError with `syscall: 'getsockopt'` (`EBADF`, `ENOTSOCK`).
   */
  socketError(fd: number): ErrnoError | null;
}

const PTY_PACKET: PtyPacketFlags = Object.freeze({
  DATA: 0,
  FLUSHREAD: 1,
  FLUSHWRITE: 2,
  STOP: 4,
  START: 8,
  NOSTOP: 16,
  DOSTOP: 32,
});

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}, got ${describeReceived(value)}`);
  }
  return value;
}

function bytes(buffer: unknown): Uint8Array {
  if (!(buffer instanceof Uint8Array)) {
    throw new InvalidArgumentError('buffer', `must be a Uint8Array or Buffer, got ${describeReceived(buffer)}`);
  }
  return buffer;
}

function range(buffer: Uint8Array, offset: unknown, length: unknown): [number, number] {
  const start = offset === undefined ? 0 : integer('offset', offset, 0, buffer.byteLength);
  const count = length === undefined ? buffer.byteLength - start : integer('length', length, 0, buffer.byteLength - start);
  return [start, count];
}

function address(host: unknown, port: unknown, minPort: number): [string, number] {
  // Literals only: resolving a name would block the thread. A scope id (`fe80::1%en0`) is not supported.
  if (typeof host !== 'string' || isIP(host) === 0 || host.includes('%')) {
    throw new InvalidArgumentError('host', `must be an IPv4 or IPv6 address literal, got ${describeReceived(host)}`);
  }
  return [host, integer('port', port, minPort, 65535)];
}

function check(rc: number, syscall: string, detail?: { fd?: number }): number {
  if (rc < 0) throw errnoError(rc, syscall, detail);
  return rc;
}

/**
 * The helpers over the native functions `native()` returns (called on every use, so the addon is loaded lazily).
 * `backend` names the backend in {@link UnsupportedError}s. Internal: the entry point passes the published addon,
 * the tests the emulated build.
 */
export function createSys(native: () => NativeSys, backend = 'kqueue'): PosixSys {
  function io(rc: number, syscall: string, fd: number): number {
    if (rc >= 0) return rc;
    const { EAGAIN, EWOULDBLOCK } = native().constants;
    if (rc === -EAGAIN || rc === -EWOULDBLOCK) return -1;
    throw errnoError(rc, syscall, { fd });
  }

  function pair(out: Int32Array): [number, number] {
    return [out[0] as number, out[1] as number];
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
      check(native().pipe(out), 'pipe');
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
    eventfd(initial = 0, options?: EventfdOptions): never {
      const value = integer('initial', initial, 0, 0xffffffff);
      const semaphore = options?.semaphore ?? false;
      if (typeof semaphore !== 'boolean') {
        throw new InvalidArgumentError('options.semaphore', `must be a boolean, got ${describeReceived(semaphore)}`);
      }
      const n = native();
      const rc = n.eventfd(value, semaphore);
      if (rc >= 0) {
        // Only a Linux build of posix/sys.cc creates one; this package never is one. Do not leak it.
        n.close(rc);
        throw new Error(`@fdloop/backend-kqueue: eventfd unexpectedly succeeded (fd ${rc}); the addon is misbuilt`);
      }
      const error = errnoError(rc, 'eventfd');
      if (rc !== -n.constants.ENOSYS) throw error;
      throw Object.assign(
        new UnsupportedError(backend, 'eventfd', 'eventfd exists on Linux only; use rt.notifier() (EVFILT_USER) instead'),
        { cause: error },
      );
    },
    read(fd, buffer, offset, length) {
      validateFd(fd);
      const [start, count] = range(bytes(buffer), offset, length);
      return io(native().read(fd, buffer, start, count), 'read', fd);
    },
    write(fd, buffer, offset, length) {
      validateFd(fd);
      const [start, count] = range(bytes(buffer), offset, length);
      return io(native().write(fd, buffer, start, count), 'write', fd);
    },
    send(fd, buffer, flags = 0) {
      validateFd(fd);
      const data = bytes(buffer);
      const bits = integer('flags', flags, 0, 0x7fffffff);
      return io(native().send(fd, data, 0, data.byteLength, bits), 'send', fd);
    },
    recv(fd, buffer, flags = 0) {
      validateFd(fd);
      const data = bytes(buffer);
      const bits = integer('flags', flags, 0, 0x7fffffff);
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
      if (typeof on !== 'boolean') throw new InvalidArgumentError('on', `must be a boolean, got ${describeReceived(on)}`);
      check(native().ptyPacketMode(masterFd, on), 'ioctl', { fd: masterFd });
    },
    tcpListen(host = '127.0.0.1', port = 0, backlog = 511) {
      const [ip, portNumber] = address(host, port, 0);
      const depth = integer('backlog', backlog, 0, 0x7fffffff);
      const n = native();
      const fd = check(n.tcpListen(ip, portNumber, depth), 'listen');
      const bound = n.localPort(fd);
      if (bound < 0) {
        // The getsockname failure is the error worth reporting; a close failure would only hide it.
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
