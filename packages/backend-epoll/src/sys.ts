/**
 * Small POSIX helpers for creating and using descriptors that a runtime can watch: pipes, socketpairs, eventfds,
 * ptys and TCP sockets, plus non-blocking `read`/`write`/`send`/`recv`. Every descriptor they create is
 * non-blocking and close-on-exec.
 *
 * I/O functions return the byte count, or {@link WOULD_BLOCK} when the call would block (`EAGAIN`), so a
 * watcher can read until it sees {@link WOULD_BLOCK}. Every other failure throws an {@link ErrnoError} shaped
 * like Node's (`code: 'EBADF'`, `syscall: 'read'`, `fd`). Invalid arguments throw an
 * {@link InvalidArgumentError}.
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
 *
 * @module
 */

import { isIP } from 'node:net';
import { ErrnoError, InvalidArgumentError, describeReceived, errnoError, validateFd } from '@fdloop/core';
import { loadNative, type NativeSys } from './native.js';

/** What {@link read}, {@link write}, {@link send}, {@link recv} and {@link tcpAccept} return when the call would block. */
export const WOULD_BLOCK = -1;

/** `send`/`recv` flag: send or receive TCP urgent (out-of-band) data. The receiver sees `Ready.PRIORITY`. */
export const MSG_OOB = 0x1;
/** `recv` flag: return data without removing it from the queue. */
export const MSG_PEEK = 0x2;
/** `send`/`recv` flag: do not block for this call (all descriptors created here are non-blocking already). */
export const MSG_DONTWAIT = 0x40;

/**
 * The status bits of the first byte a pty master returns in packet mode (see {@link ptyPacketMode}).
 * A first byte of `PTY_PACKET.DATA` (0) means the rest is ordinary output.
 */
export const PTY_PACKET = Object.freeze({
  /** Ordinary data follows. */
  DATA: 0,
  /** The terminal's input queue was flushed. */
  FLUSHREAD: 1,
  /** The terminal's output queue was flushed. */
  FLUSHWRITE: 2,
  /** Output was stopped (`^S`). */
  STOP: 4,
  /** Output was restarted (`^Q`). */
  START: 8,
  /** Software flow control was switched off. */
  NOSTOP: 16,
  /** Software flow control was switched on. */
  DOSTOP: 32,
} as const);

/** The kind of socket {@link socketpair} creates. */
export type SocketPairType = 'stream' | 'dgram' | 'seqpacket';

/** Options of {@link eventfd}. */
export interface EventfdOptions {
  /**
   * Semaphore semantics: each read returns 1 and decrements the counter by one, instead of returning the whole
   * counter and resetting it. Defaults to `false`.
   */
  readonly semaphore?: boolean;
}

/** A listening TCP socket created by {@link tcpListen}. */
export interface TcpListener {
  /** The listening descriptor. */
  readonly fd: number;
  /** The port it is bound to (the one the kernel picked when port `0` was asked for). */
  readonly port: number;
}

/** A new pseudo-terminal created by {@link openpty}. */
export interface Pty {
  /** The master side: what a terminal emulator reads and writes. */
  readonly master: number;
  /** The slave side: the terminal a program runs on. */
  readonly slave: number;
}

function native(): NativeSys {
  return loadNative().sys;
}

// EAGAIN and EWOULDBLOCK are the same number on Linux, so one comparison covers both.
const EAGAIN = -11;

function ioResult(rc: number, syscall: string, fd: number): number {
  if (rc >= 0) return rc;
  if (rc === EAGAIN) return WOULD_BLOCK;
  throw errnoError(rc, syscall, { fd });
}

function check(rc: number, syscall: string, detail?: { fd?: number }): void {
  if (rc < 0) throw errnoError(rc, syscall, detail);
}

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

/** The start of an I/O range: `offset`, validated, or `0`. */
function rangeStart(buffer: Uint8Array, offset: unknown): number {
  return offset === undefined ? 0 : integer('offset', offset, 0, buffer.byteLength);
}

/** The length of an I/O range: `length`, validated, or the rest of the buffer after `start`. */
function rangeLength(buffer: Uint8Array, start: number, length: unknown): number {
  return length === undefined ? buffer.byteLength - start : integer('length', length, 0, buffer.byteLength - start);
}

function address(host: unknown, port: unknown, minPort: number): [string, number] {
  // Literals only: resolving a name would block the thread. A scope id (`fe80::1%eth0`) is not supported.
  if (typeof host !== 'string' || isIP(host) === 0 || host.includes('%')) {
    throw new InvalidArgumentError('host', `must be an IPv4 or IPv6 address literal, got ${describeReceived(host)}`);
  }
  return [host, integer('port', port, minPort, 65535)];
}

/**
 * Create a pipe (`pipe2` with `O_NONBLOCK | O_CLOEXEC`).
 * @returns `[readFd, writeFd]`
 * @throws ErrnoError `EMFILE` when the process is out of descriptors.
 *
 * @example
 * ```ts
 * const [r, w] = sys.pipe();
 * rt.watch(r, Interest.READABLE, onReadable);
 * ```
 */
export function pipe(): [readFd: number, writeFd: number] {
  const out = new Int32Array(2);
  check(native().pipe(out), 'pipe2');
  return [out[0] as number, out[1] as number];
}

/**
 * Create a connected pair of Unix-domain sockets (`socketpair(AF_UNIX, …)`, non-blocking, close-on-exec).
 * @param type the socket type. Defaults to `'stream'`.
 * @returns `[a, b]`: what is written to one end is read from the other.
 */
export function socketpair(type: SocketPairType = 'stream'): [number, number] {
  const sys = native();
  const kinds: Record<SocketPairType, number> = {
    stream: sys.constants.SOCK_STREAM,
    dgram: sys.constants.SOCK_DGRAM,
    seqpacket: sys.constants.SOCK_SEQPACKET,
  };
  if (!Object.hasOwn(kinds, type)) {
    throw new InvalidArgumentError('type', `must be 'stream', 'dgram' or 'seqpacket', got ${describeReceived(type)}`);
  }
  const out = new Int32Array(2);
  check(sys.socketpair(kinds[type], out), 'socketpair');
  return [out[0] as number, out[1] as number];
}

/**
 * Create an eventfd (`EFD_NONBLOCK | EFD_CLOEXEC`): a 64-bit counter that is readable while it is non-zero.
 * Write an 8-byte native-endian integer to add to it; a read returns the counter and resets it (or decrements
 * it by one with `semaphore`).
 * @param initial the counter's initial value. Defaults to `0`.
 * @param options see {@link EventfdOptions}.
 * @returns the descriptor.
 *
 * @example
 * ```ts
 * const fd = sys.eventfd();
 * const one = new BigUint64Array([1n]);
 * sys.write(fd, new Uint8Array(one.buffer)); // fd is now readable
 * ```
 */
export function eventfd(initial = 0, options?: EventfdOptions): number {
  const value = integer('initial', initial, 0, 0xffffffff);
  const semaphore = options?.semaphore ?? false;
  if (typeof semaphore !== 'boolean') {
    throw new InvalidArgumentError('options.semaphore', `must be a boolean, got ${describeReceived(semaphore)}`);
  }
  const fd = native().eventfd(value, semaphore);
  check(fd, 'eventfd');
  return fd;
}

/**
 * Read from a descriptor without blocking. `EINTR` is retried.
 * @param offset where in `buffer` to start storing. Defaults to `0`.
 * @param length how many bytes to read at most. Defaults to `buffer.byteLength - offset`.
 * @returns the number of bytes read, `0` at end of file, or {@link WOULD_BLOCK} if nothing is available.
 * @throws ErrnoError with `syscall: 'read'` for any other failure (`EBADF`, `EIO`…).
 */
export function read(fd: number, buffer: Uint8Array, offset?: number, length?: number): number {
  validateFd(fd);
  const start = rangeStart(bytes(buffer), offset);
  const count = rangeLength(buffer, start, length);
  return ioResult(native().read(fd, buffer, start, count), 'read', fd);
}

/**
 * Write to a descriptor without blocking. `EINTR` is retried.
 * @param offset where in `buffer` the data starts. Defaults to `0`.
 * @param length how many bytes to write. Defaults to `buffer.byteLength - offset`.
 * @returns the number of bytes written (possibly fewer than asked), or {@link WOULD_BLOCK} if none fit.
 * @throws ErrnoError with `syscall: 'write'` for any other failure (`EPIPE` when the reader is gone, `EBADF`…).
 */
export function write(fd: number, buffer: Uint8Array, offset?: number, length?: number): number {
  validateFd(fd);
  const start = rangeStart(bytes(buffer), offset);
  const count = rangeLength(buffer, start, length);
  return ioResult(native().write(fd, buffer, start, count), 'write', fd);
}

/**
 * Send the whole of `buffer` on a socket. `MSG_NOSIGNAL` is always added, so a closed peer is an `EPIPE` error
 * rather than a `SIGPIPE`.
 * @param flags `send(2)` flags such as {@link MSG_OOB}. Defaults to `0`.
 * @returns the number of bytes sent, or {@link WOULD_BLOCK}.
 * @throws ErrnoError with `syscall: 'send'` for any other failure.
 *
 * @example
 * ```ts
 * sys.send(fd, Buffer.from('!'), sys.MSG_OOB); // the peer sees Ready.PRIORITY
 * ```
 */
export function send(fd: number, buffer: Uint8Array, flags = 0): number {
  validateFd(fd);
  const data = bytes(buffer);
  const bits = integer('flags', flags, 0, 0x7fffffff);
  return ioResult(native().send(fd, data, 0, data.byteLength, bits), 'send', fd);
}

/**
 * Receive from a socket into `buffer`.
 * @param flags `recv(2)` flags such as {@link MSG_OOB} or {@link MSG_PEEK}. Defaults to `0`.
 * @returns the number of bytes received, `0` when the peer has shut down, or {@link WOULD_BLOCK}.
 * @throws ErrnoError with `syscall: 'recv'` for any other failure (`EINVAL` for {@link MSG_OOB} when no urgent
 *   byte is pending).
 */
export function recv(fd: number, buffer: Uint8Array, flags = 0): number {
  validateFd(fd);
  const data = bytes(buffer);
  const bits = integer('flags', flags, 0, 0x7fffffff);
  return ioResult(native().recv(fd, data, 0, data.byteLength, bits), 'recv', fd);
}

/**
 * Close a descriptor. An `EINTR` from `close(2)` counts as success: Linux has released the descriptor by then,
 * and retrying could close one that another thread just opened.
 * @throws ErrnoError with `syscall: 'close'`: `EBADF` if `fd` is not open.
 */
export function close(fd: number): void {
  validateFd(fd);
  check(native().close(fd), 'close', { fd });
}

/**
 * Create a pseudo-terminal pair, both ends non-blocking and close-on-exec, with the default terminal settings
 * (canonical mode, echo on).
 * @throws ErrnoError with `syscall: 'openpty'`.
 *
 * @example
 * ```ts
 * const { master, slave } = sys.openpty();
 * sys.write(slave, Buffer.from('hello\n')); // master becomes readable: "hello\r\n"
 * ```
 */
export function openpty(): Pty {
  const out = new Int32Array(2);
  check(native().openpty(out), 'openpty');
  return { master: out[0] as number, slave: out[1] as number };
}

/**
 * Switch a pty master's packet mode (`ioctl(TIOCPKT)`). In packet mode every read from the master starts with a
 * status byte ({@link PTY_PACKET}), and status changes such as output stopped by `^S` make the master report
 * `Ready.PRIORITY`.
 * @throws ErrnoError with `syscall: 'ioctl'`: `ENOTTY` if `masterFd` is not a pty master.
 */
export function ptyPacketMode(masterFd: number, on: boolean): void {
  validateFd(masterFd);
  if (typeof on !== 'boolean') throw new InvalidArgumentError('on', `must be a boolean, got ${describeReceived(on)}`);
  check(native().ptyPacketMode(masterFd, on), 'ioctl', { fd: masterFd });
}

/**
 * Create a non-blocking TCP listening socket with `SO_REUSEADDR`.
 * @param host an IPv4 or IPv6 address literal to bind to (no host names). Defaults to `'127.0.0.1'`.
 * @param port the port; `0` lets the kernel pick a free one. Defaults to `0`.
 * @param backlog the length of the queue of pending connections. Defaults to `511`, as in Node's `net`.
 * @throws ErrnoError with `syscall: 'listen'` (`EADDRINUSE`, `EACCES`…), as in Node's `net`.
 *
 * @example
 * ```ts
 * const server = sys.tcpListen();
 * const client = sys.tcpConnect('127.0.0.1', server.port);
 * ```
 */
export function tcpListen(host = '127.0.0.1', port = 0, backlog = 511): TcpListener {
  const [ip, portNumber] = address(host, port, 0);
  const depth = integer('backlog', backlog, 0, 0x7fffffff);
  const sys = native();
  const fd = sys.tcpListen(ip, portNumber, depth);
  check(fd, 'listen');
  const bound = sys.localPort(fd);
  if (bound < 0) {
    // Ignored on purpose: the getsockname failure is the error worth reporting, and a close failure would only
    // hide it.
    sys.close(fd);
    throw errnoError(bound, 'getsockname', { fd });
  }
  return { fd, port: bound };
}

/**
 * Accept a pending connection (`accept4` with `SOCK_NONBLOCK | SOCK_CLOEXEC`).
 * @returns the connected descriptor, or {@link WOULD_BLOCK} when no connection is pending.
 * @throws ErrnoError with `syscall: 'accept'`.
 */
export function tcpAccept(listenFd: number): number {
  validateFd(listenFd);
  return ioResult(native().tcpAccept(listenFd), 'accept', listenFd);
}

/**
 * Start a non-blocking TCP connection. It usually completes later: watch the descriptor for
 * `Interest.WRITABLE`, then call {@link socketError} to learn whether it succeeded.
 * @param host an IPv4 or IPv6 address literal (no host names).
 * @returns the connecting descriptor.
 * @throws ErrnoError with `syscall: 'connect'` for an immediate failure (`ENETUNREACH`…).
 */
export function tcpConnect(host: string, port: number): number {
  const [ip, portNumber] = address(host, port, 1);
  const fd = native().tcpConnect(ip, portNumber);
  check(fd, 'connect');
  return fd;
}

/**
 * The error pending on a socket (`getsockopt(SO_ERROR)`), which also clears it. After a non-blocking
 * {@link tcpConnect} became writable, `null` means the connection is established.
 * @returns an {@link ErrnoError} with `syscall: 'connect'` (for example `ECONNREFUSED`), or `null`.
 * @throws ErrnoError with `syscall: 'getsockopt'` if the error cannot be read (`EBADF`, `ENOTSOCK`).
 */
export function socketError(fd: number): ErrnoError | null {
  validateFd(fd);
  const rc = native().socketError(fd);
  check(rc, 'getsockopt', { fd });
  return rc === 0 ? null : errnoError(rc, 'connect', { fd });
}
