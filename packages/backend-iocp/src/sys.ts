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

import { InvalidArgumentError, describeReceived, validateFd } from '@fdloop/core';
import { winError } from './errors.js';
import { loadNative, type NativeSys } from './native.js';

/**
 * Returned by {@link recv}, {@link send} and {@link tcpAccept} instead of throwing when the call would block.
 * Seeing it is also what re-arms that direction of an edge-triggered (`Interest.EDGE`) registration of the socket
 * in this thread's pollers: drain until `WOULD_BLOCK` after each edge report.
 */
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
    throw new InvalidArgumentError('port', `must be an integer from 0 to 65535, got ${describeReceived(port)}`);
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

const MAXDWORD = 0xffffffff;

/** Options of {@link openSerial}. */
export interface SerialOptions {
  /** The baud rate (`DCB.BaudRate`). Defaults to `9600`. */
  readonly baudRate?: number;
  /**
   * `ReadIntervalTimeout` (ms): once a read has received bytes, it completes when the line stays quiet this long
   * (or its buffer is full). From `1` to `0xfffffffe`. Defaults to `1`: a read completes as soon as a burst of
   * bytes has arrived. The timer starts only at the first byte, so a read with no `readTimeout` waits for that
   * byte as long as it takes.
   */
  readonly readInterval?: number;
  /**
   * `ReadTotalTimeoutConstant` (ms): a read completes after this long whatever has arrived, with `0` bytes when
   * nothing did — a **timeout, not end of file** (a serial port has no end of file). From `0` to `0xfffffffe`.
   * Defaults to `0`: no total timeout.
   */
  readonly readTimeout?: number;
}

/** A serial port's `COMMTIMEOUTS`, in milliseconds (see {@link getCommTimeouts}). */
export interface CommTimeouts {
  /** `ReadIntervalTimeout`. */
  readonly readInterval: number;
  /** `ReadTotalTimeoutMultiplier`. */
  readonly readMultiplier: number;
  /** `ReadTotalTimeoutConstant`. */
  readonly readConstant: number;
  /** `WriteTotalTimeoutMultiplier`. */
  readonly writeMultiplier: number;
  /** `WriteTotalTimeoutConstant`. */
  readonly writeConstant: number;
}

/** A serial port's line settings, from its `DCB` (see {@link getCommState}). */
export interface CommState {
  /** `BaudRate`. */
  readonly baudRate: number;
  /** `ByteSize`: data bits. */
  readonly byteSize: number;
  /** `Parity`: 0 none, 1 odd, 2 even, 3 mark, 4 space. */
  readonly parity: number;
  /** `StopBits`: 0 one, 1 one and a half, 2 two. */
  readonly stopBits: number;
}

function validateDword(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}, got ${describeReceived(value)}`);
  }
  return value;
}

/** `'COM9'` → `'\\.\COM9'` (the form that works for every port number); a `\\…` device path as it is. */
function serialPath(name: unknown): string {
  if (typeof name === 'string' && /^COM[0-9]{1,3}$/i.test(name)) return `\\\\.\\${name.toUpperCase()}`;
  if (typeof name === 'string' && name.startsWith('\\\\') && name.length > 4) return name;
  throw new InvalidArgumentError('name', `must be a port name like 'COM3' or a device path like '\\\\.\\COM3', got ${describeReceived(name)}`);
}

/**
 * Open a serial port for the completion layer ({@link IocpPoller.read} / {@link IocpPoller.write}): `CreateFileW`
 * with exclusive access (share mode 0, as Windows requires for COM ports) and `FILE_FLAG_OVERLAPPED`, then
 * `SetCommState` (raw 8N1 at `baudRate`, binary, no parity check, no flow control, DTR and RTS on) and
 * `SetCommTimeouts` with
 *
 * - `ReadIntervalTimeout = readInterval` (default 1 ms), `ReadTotalTimeoutMultiplier = 0`,
 *   `ReadTotalTimeoutConstant = readTimeout` (default 0, none): a read waits for its first byte (at most
 *   `readTimeout` ms when set) and then **completes with what has arrived** once the line is quiet for
 *   `readInterval` ms, instead of waiting to fill its buffer (what the all-zero default `COMMTIMEOUTS` does);
 * - `WriteTotalTimeoutMultiplier = WriteTotalTimeoutConstant = 0`: writes never time out.
 *
 * (The documented "return at once when any byte is there" combination — `ReadIntervalTimeout` and
 * `ReadTotalTimeoutMultiplier` both `MAXDWORD` — is not used: Wine 8 does not honour it for overlapped reads,
 * which then wait for a full buffer; see the README. The interval form behaves the same on Windows and Wine.)
 *
 * Close it with {@link closeHandle}; a read still pending then completes with `ECANCELED`. Change the timeouts
 * later with {@link setCommTimeouts}.
 * @param name `'COM3'` (made `\\.\COM3`, the form that works for every port number) or a device path starting
 *   with two backslashes.
 * @throws ErrnoError from `CreateFileW` (`ENOENT`: no such port; `EPERM`/`EBUSY`: already open elsewhere),
 *   `SetCommState` or `SetCommTimeouts` (the handle is closed again; `ENOTSUP` when the device is no serial port);
 *   InvalidArgumentError for a bad name or option.
 * @example
 * ```ts
 * const port = sys.openSerial('COM3', { baudRate: 115200 });
 * poller.read(port, Buffer.alloc(256), 1); // completes with the first burst of bytes that arrives
 * poller.write(port, Buffer.from('AT\r'), 2);
 * ```
 */
export function openSerial(name: string, options: SerialOptions = {}): number {
  const path = serialPath(name);
  const baudRate = validateDword('baudRate', options.baudRate ?? 9600, 1, MAXDWORD);
  const readInterval = validateDword('readInterval', options.readInterval ?? 1, 1, MAXDWORD - 1);
  const readTimeout = validateDword('readTimeout', options.readTimeout ?? 0, 0, MAXDWORD - 1);
  const handle = native().openSerial(path);
  if (handle < 0) throw winError(-handle, 'CreateFileW', { path });
  try {
    check(native().setCommState(handle, baudRate), 'SetCommState', handle);
    setCommTimeouts(handle, { readInterval, readMultiplier: 0, readConstant: readTimeout, writeMultiplier: 0, writeConstant: 0 });
  } catch (error) {
    native().closeHandle(handle);
    throw error;
  }
  return handle;
}

/** `GetCommState`: the line settings of a serial port handle. */
export function getCommState(handle: number): CommState {
  const out = new Float64Array(4);
  check(native().getCommState(validateFd(handle), out), 'GetCommState', handle);
  return { baudRate: out[0] as number, byteSize: out[1] as number, parity: out[2] as number, stopBits: out[3] as number };
}

/** `GetCommTimeouts` of a serial port handle. */
export function getCommTimeouts(handle: number): CommTimeouts {
  const out = new Float64Array(5);
  check(native().getCommTimeouts(validateFd(handle), out), 'GetCommTimeouts', handle);
  return {
    readInterval: out[0] as number,
    readMultiplier: out[1] as number,
    readConstant: out[2] as number,
    writeMultiplier: out[3] as number,
    writeConstant: out[4] as number,
  };
}

/** `SetCommTimeouts` of a serial port handle (every field from 0 to `0xffffffff`, `MAXDWORD`). */
export function setCommTimeouts(handle: number, timeouts: CommTimeouts): void {
  const v = (name: keyof CommTimeouts): number => validateDword(name, timeouts[name], 0, MAXDWORD);
  check(
    native().setCommTimeouts(validateFd(handle), v('readInterval'), v('readMultiplier'), v('readConstant'), v('writeMultiplier'), v('writeConstant')),
    'SetCommTimeouts',
    handle,
  );
}

/** The modem input lines of a serial port (`GetCommModemStatus`). */
export interface ModemStatus {
  /** Clear to send (`MS_CTS_ON`). */
  readonly cts: boolean;
  /** Data set ready (`MS_DSR_ON`). */
  readonly dsr: boolean;
  /** Ring indicator (`MS_RING_ON`). */
  readonly ring: boolean;
  /** Carrier detect (`MS_RLSD_ON`). */
  readonly dcd: boolean;
}

/** `GetCommModemStatus`. Under Wine on a pseudo-terminal it fails (a pty has no modem lines). */
export function getModemStatus(handle: number): ModemStatus {
  const bits = check(native().getCommModemStatus(validateFd(handle)), 'GetCommModemStatus', handle);
  return { cts: (bits & 0x10) !== 0, dsr: (bits & 0x20) !== 0, ring: (bits & 0x40) !== 0, dcd: (bits & 0x80) !== 0 };
}
