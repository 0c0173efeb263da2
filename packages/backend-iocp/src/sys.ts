/**
 * Small Windows helpers that create handles worth watching: loopback TCP sockets (for readiness) and overlapped
 * named pipes and files (for the completion layer). Socket I/O returns the byte count, or {@link WOULD_BLOCK}
 * when the call would block (`WSAEWOULDBLOCK`), so a watcher can read until it sees {@link WOULD_BLOCK}. Every
 * other failure throws an `ErrnoError` shaped like Node's (`code: 'ECONNRESET'`, `syscall: 'recv'`).
 *
 * Handles are plain numbers (a `SOCKET` or `HANDLE` value), the "fd" the runtime watches.
 *
 * @example
 * ```ts
 * import { sys } from '@fdloop/backend-iocp';
 * const [a, b] = sys.socketPair();
 * sys.send(b, Buffer.from('hi'));
 * const buf = Buffer.alloc(16);
 * sys.recv(a, buf); // 2, or sys.WOULD_BLOCK if it has not arrived yet
 * sys.closeSocket(a);
 * sys.closeSocket(b);
 * ```
 *
 * @module
 */

import { InvalidArgumentError, validateFd } from '@fdloop/core';
import { winError } from './errors.js';
import { loadNative, type NativeSys } from './native.js';

/** Returned by {@link recv}, {@link send} and {@link tcpAccept} instead of throwing when the call would block. */
export const WOULD_BLOCK = -1;

function native(): NativeSys {
  return loadNative().sys;
}

function check(rc: number, syscall: string, fd?: number): number {
  if (rc >= 0) return rc;
  throw winError(-rc, syscall, fd === undefined ? undefined : { fd });
}

function orWouldBlock(rc: number, syscall: string, fd: number): number {
  if (rc === -native().constants.WSAEWOULDBLOCK) return WOULD_BLOCK;
  return check(rc, syscall, fd);
}

function validatePort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError('port', `must be an integer from 0 to 65535, got ${String(port)}`);
  }
  return port;
}

/** `MSG_OOB`: send or receive TCP urgent data (reported as `Ready.PRIORITY`). */
export function msgOob(): number {
  return native().constants.MSG_OOB;
}

/**
 * A connected, non-blocking TCP pair on 127.0.0.1: `[a, b]`. Windows has no `socketpair(2)`; this is what
 * libuv and Python do too.
 */
export function socketPair(): [number, number] {
  const out = new Float64Array(2);
  check(native().socketPair(out), 'socketpair');
  return [out[0] as number, out[1] as number];
}

/** A listening socket from {@link tcpListen}. */
export interface TcpListener {
  /** The socket. */
  readonly fd: number;
  /** The port it listens on (useful after asking for port `0`). */
  readonly port: number;
}

/**
 * A non-blocking listening TCP socket.
 * @param host an IPv4 address. Defaults to `'127.0.0.1'`.
 * @param port Defaults to `0` (any free port; read it from the result).
 * @param backlog Defaults to `128`.
 */
export function tcpListen(host = '127.0.0.1', port = 0, backlog = 128): TcpListener {
  const fd = check(native().tcpListen(String(host), validatePort(port), backlog), 'listen');
  try {
    return { fd, port: check(native().localPort(fd), 'getsockname', fd) };
  } catch (error) {
    native().closeSocket(fd);
    throw error;
  }
}

/** Accept one connection (non-blocking): the new socket, or {@link WOULD_BLOCK}. */
export function tcpAccept(fd: number): number {
  return orWouldBlock(native().tcpAccept(validateFd(fd)), 'accept', fd);
}

/** Start a non-blocking connection; it completes when the socket reports writable. */
export function tcpConnect(host: string, port: number): number {
  return check(native().tcpConnect(String(host), validatePort(port)), 'connect');
}

/** `send(2)`: bytes sent, or {@link WOULD_BLOCK}. `flags` defaults to `0` (use {@link msgOob} for urgent data). */
export function send(fd: number, data: Uint8Array, flags = 0): number {
  return orWouldBlock(native().send(validateFd(fd), data, 0, data.length, flags), 'send', fd);
}

/** `recv(2)`: bytes received (`0` when the peer closed), or {@link WOULD_BLOCK}. `flags` defaults to `0`. */
export function recv(fd: number, buffer: Uint8Array, flags = 0): number {
  return orWouldBlock(native().recv(validateFd(fd), buffer, 0, buffer.length, flags), 'recv', fd);
}

/** `closesocket`. */
export function closeSocket(fd: number): void {
  check(native().closeSocket(validateFd(fd)), 'closesocket', fd);
}

/** The pending socket error (`SO_ERROR`) as an E* name, or `undefined` when there is none. */
export function socketError(fd: number): string | undefined {
  const code = check(native().socketError(validateFd(fd)), 'getsockopt', fd);
  return code === 0 ? undefined : native().errorName(code);
}

/** The local port a socket is bound to. */
export function localPort(fd: number): number {
  return check(native().localPort(validateFd(fd)), 'getsockname', fd);
}

/**
 * An overlapped named-pipe pair: `[readEnd, writeEnd]`, both usable with the completion layer
 * ({@link IocpPoller.read} / {@link IocpPoller.write}). Close them with {@link closeHandle}.
 */
export function pipe(): [number, number] {
  const out = new Float64Array(2);
  check(native().pipe(out), 'CreateNamedPipe');
  return [out[0] as number, out[1] as number];
}

/** Options of {@link openFile}. */
export interface OpenFileOptions {
  /** Open for writing too. Defaults to `false`. */
  readonly write?: boolean;
  /** Create the file if it does not exist. Defaults to `false`. */
  readonly create?: boolean;
}

/** Open a file for overlapped I/O (`FILE_FLAG_OVERLAPPED`) and return its handle. */
export function openFile(path: string, options: OpenFileOptions = {}): number {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidArgumentError('path', 'must be a non-empty string');
  }
  const rc = native().openFile(path, options.write === true, options.create === true);
  if (rc < 0) throw winError(-rc, 'CreateFileW', { path });
  return rc;
}

/** `CloseHandle` for a pipe or file handle (sockets: {@link closeSocket}). */
export function closeHandle(handle: number): void {
  check(native().closeHandle(validateFd(handle)), 'CloseHandle', handle);
}
