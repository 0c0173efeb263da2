/**
 * Small POSIX helpers for creating and using descriptors that a runtime can watch: pipes, socketpairs, eventfds,
 * ptys and TCP sockets, plus non-blocking `read`/`write`/`send`/`recv`. Every descriptor they create is
 * non-blocking and close-on-exec.
 *
 * I/O functions return the byte count, or {@link WOULD_BLOCK} when the call would block (`EAGAIN`), so a
 * watcher can read until it sees {@link WOULD_BLOCK}. Every other failure throws an {@link ErrnoError} shaped
 * like Node's (`code: 'EBADF'`, `syscall: 'read'`, `fd`). Invalid arguments throw an
 * `InvalidArgumentError` (`ERR_FDLOOP_INVALID_ARGUMENT`) from `@fdloop/core`.
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

import type { ErrnoError } from '@fdloop/core';
import {
  PTY_PACKET as POSIX_PTY_PACKET,
  createPosixSys,
  type EventfdOptions,
  type Pty,
  type PtyPacketFlags,
  type SocketPairType,
  type TcpListener,
} from '@fdloop/core/backend-kit';
import { loadNative } from './native.js';

export type { EventfdOptions, Pty, PtyPacketFlags, SocketPairType, TcpListener };

// The shared helpers over this addon's native `sys` (native-build's `posix` component; Linux: pipe2, accept4,
// SOCK_NONBLOCK, eventfd). Every function below is one of them, exported by name as this package always has.
const posix = createPosixSys(() => loadNative().sys, { backend: 'epoll', pipeSyscall: 'pipe2' });

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
export const PTY_PACKET: PtyPacketFlags = POSIX_PTY_PACKET;

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
export const pipe: () => [readFd: number, writeFd: number] = posix.pipe;

/**
 * Create a connected pair of Unix-domain sockets (`socketpair(AF_UNIX, …)`, non-blocking, close-on-exec).
 * @param type the socket type. Defaults to `'stream'`.
 * @returns `[a, b]`: what is written to one end is read from the other.
 */
export const socketpair: (type?: SocketPairType) => [number, number] = posix.socketpair;

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
export const eventfd: (initial?: number, options?: EventfdOptions) => number = posix.eventfd;

/**
 * Read from a descriptor without blocking. `EINTR` is retried.
 * @param offset where in `buffer` to start storing. Defaults to `0`.
 * @param length how many bytes to read at most. Defaults to `buffer.byteLength - offset`.
 * @returns the number of bytes read, `0` at end of file, or {@link WOULD_BLOCK} if nothing is available.
 * @throws ErrnoError with `syscall: 'read'` for any other failure (`EBADF`, `EIO`…).
 */
export const read: (fd: number, buffer: Uint8Array, offset?: number, length?: number) => number = posix.read;

/**
 * Write to a descriptor without blocking. `EINTR` is retried.
 * @param offset where in `buffer` the data starts. Defaults to `0`.
 * @param length how many bytes to write. Defaults to `buffer.byteLength - offset`.
 * @returns the number of bytes written (possibly fewer than asked), or {@link WOULD_BLOCK} if none fit.
 * @throws ErrnoError with `syscall: 'write'` for any other failure (`EPIPE` when the reader is gone, `EBADF`…).
 */
export const write: (fd: number, buffer: Uint8Array, offset?: number, length?: number) => number = posix.write;

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
export const send: (fd: number, buffer: Uint8Array, flags?: number) => number = posix.send;

/**
 * Receive from a socket into `buffer`.
 * @param flags `recv(2)` flags such as {@link MSG_OOB} or {@link MSG_PEEK}. Defaults to `0`.
 * @returns the number of bytes received, `0` when the peer has shut down, or {@link WOULD_BLOCK}.
 * @throws ErrnoError with `syscall: 'recv'` for any other failure (`EINVAL` for {@link MSG_OOB} when no urgent
 *   byte is pending).
 */
export const recv: (fd: number, buffer: Uint8Array, flags?: number) => number = posix.recv;

/**
 * Close a descriptor. An `EINTR` from `close(2)` counts as success: Linux has released the descriptor by then,
 * and retrying could close one that another thread just opened.
 * @throws ErrnoError with `syscall: 'close'`: `EBADF` if `fd` is not open.
 */
export const close: (fd: number) => void = posix.close;

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
export const openpty: () => Pty = posix.openpty;

/**
 * Switch a pty master's packet mode (`ioctl(TIOCPKT)`). In packet mode every read from the master starts with a
 * status byte ({@link PTY_PACKET}), and status changes such as output stopped by `^S` make the master report
 * `Ready.PRIORITY`.
 * @throws ErrnoError with `syscall: 'ioctl'`: `ENOTTY` if `masterFd` is not a pty master.
 */
export const ptyPacketMode: (masterFd: number, on: boolean) => void = posix.ptyPacketMode;

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
export const tcpListen: (host?: string, port?: number, backlog?: number) => TcpListener = posix.tcpListen;

/**
 * Accept a pending connection (`accept4` with `SOCK_NONBLOCK | SOCK_CLOEXEC`).
 * @returns the connected descriptor, or {@link WOULD_BLOCK} when no connection is pending.
 * @throws ErrnoError with `syscall: 'accept'`.
 */
export const tcpAccept: (listenFd: number) => number = posix.tcpAccept;

/**
 * Start a non-blocking TCP connection. It usually completes later: watch the descriptor for
 * `Interest.WRITABLE`, then call {@link socketError} to learn whether it succeeded.
 * @param host an IPv4 or IPv6 address literal (no host names).
 * @returns the connecting descriptor.
 * @throws ErrnoError with `syscall: 'connect'` for an immediate failure (`ENETUNREACH`…).
 */
export const tcpConnect: (host: string, port: number) => number = posix.tcpConnect;

/**
 * The error pending on a socket (`getsockopt(SO_ERROR)`), which also clears it. After a non-blocking
 * {@link tcpConnect} became writable, `null` means the connection is established.
 * @returns an {@link ErrnoError} with `syscall: 'connect'` (for example `ECONNREFUSED`), or `null`.
 * @throws ErrnoError with `syscall: 'getsockopt'` if the error cannot be read (`EBADF`, `ENOTSOCK`).
 */
export const socketError: (fd: number) => ErrnoError | null = posix.socketError;
