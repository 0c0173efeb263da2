/**
 * Errors. Library errors are classes with a stable `code` (`ERR_FDLOOP_…`); system-call failures are
 * {@link ErrnoError}s shaped like Node's own (`code`, negative `errno`, `syscall`, message `"epoll_ctl EBADF"`).
 * `instanceof` works across duplicate installs of `@fdloop/core` because each class checks a `Symbol.for` brand.
 */

import { getSystemErrorMap, getSystemErrorName, inspect } from 'node:util';

const BRAND = Symbol.for('fdloop.error.code');

/** Every stable error code this package produces. */
export const ErrorCode = {
  /** An argument has the wrong type or range (a negative fd, an empty interest, NaN delay…). */
  INVALID_ARGUMENT: 'ERR_FDLOOP_INVALID_ARGUMENT',
  /** The descriptor is already watched by this runtime. */
  ALREADY_WATCHED: 'ERR_FDLOOP_ALREADY_WATCHED',
  /** The runtime was closed; nothing can be started on it. */
  RUNTIME_CLOSED: 'ERR_FDLOOP_RUNTIME_CLOSED',
  /** The watcher was closed; it cannot be modified or re-armed. */
  WATCHER_CLOSED: 'ERR_FDLOOP_WATCHER_CLOSED',
  /** A pending operation was cancelled because its watcher or runtime closed. */
  CANCELLED: 'ERR_FDLOOP_CANCELLED',
  /** The backend lacks a feature that was asked for. */
  UNSUPPORTED: 'ERR_FDLOOP_UNSUPPORTED',
  /** No backend was given and none could be found installed. */
  NO_BACKEND: 'ERR_FDLOOP_NO_BACKEND',
  /** A backend was asked for by a name that is not known. */
  UNKNOWN_BACKEND: 'ERR_FDLOOP_UNKNOWN_BACKEND',
  /** More watchers than the runtime's slab can address. */
  TOO_MANY_WATCHERS: 'ERR_FDLOOP_TOO_MANY_WATCHERS',
  /** `run()` was called while another `run()` of the same runtime is in progress. */
  ALREADY_RUNNING: 'ERR_FDLOOP_ALREADY_RUNNING',
  /** A socket or HTTP operation did not finish in time (connect, idle, headers, request). */
  TIMEOUT: 'ERR_FDLOOP_TIMEOUT',
  /** The socket was closed before the operation could finish. */
  SOCKET_CLOSED: 'ERR_FDLOOP_SOCKET_CLOSED',
  /** An HTTP message broke the protocol (RFC 9112) or a configured limit; `status` says how a server answers. */
  HTTP_PARSE: 'ERR_FDLOOP_HTTP_PARSE',
  /** The thread pool's queue is full and the pool was told to refuse rather than wait. */
  POOL_QUEUE_FULL: 'ERR_FDLOOP_POOL_QUEUE_FULL',
  /** A pool worker exited (or crashed) while it was running a task. */
  POOL_WORKER_EXITED: 'ERR_FDLOOP_POOL_WORKER_EXITED',
  /** A pool task kind could not be loaded in a worker (module not found, export missing or not a function). */
  POOL_TASK_LOAD: 'ERR_FDLOOP_POOL_TASK_LOAD',
  /** A blocking read or write of a pollable descriptor (FIFO, socket, tty) was refused for the thread pool. */
  POLLABLE_FD: 'ERR_FDLOOP_POLLABLE_FD',
  /** An I/O object (a serial port, a socket, a file handle) was used after it was closed. */
  CLOSED: 'ERR_FDLOOP_CLOSED',
  /** A C library driven through fdloop (libmosquitto…) reported an error that is not an errno. */
  LIBRARY: 'ERR_FDLOOP_LIBRARY',
  /** A WebSocket opening handshake failed (RFC 6455 §4): a refused or malformed request, an unexpected answer. */
  WEBSOCKET_HANDSHAKE: 'ERR_FDLOOP_WEBSOCKET_HANDSHAKE',
  /** A WebSocket peer broke RFC 6455 or a configured limit; `closeCode` is the close code the connection failed with. */
  WEBSOCKET_PROTOCOL: 'ERR_FDLOOP_WEBSOCKET_PROTOCOL',
} as const;

/** One of the values of {@link ErrorCode}. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Base class of every library error. Check `err.code` (stable) rather than the message (may change).
 *
 * @example
 * ```ts
 * try { rt.watch(fd, 0, cb); } catch (err) {
 *   if (err instanceof FdloopError && err.code === 'ERR_FDLOOP_INVALID_ARGUMENT') { … }
 * }
 * ```
 */
export class FdloopError extends Error {
  /** The stable error code. */
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FdloopError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: code, enumerable: false });
  }

  /**
   * `instanceof` that also recognises errors created by another copy of `@fdloop/core` (two installed versions),
   * through a `Symbol.for` brand carrying the error code.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === FdloopError) {
      return typeof value === 'object' && value !== null && typeof (value as Record<symbol, unknown>)[BRAND] === 'string';
    }
    return Function.prototype[Symbol.hasInstance].call(this, value) || brandMatches(value, this);
  }
}

const CLASS_CODE = Symbol('fdloop.class.code');

function brandMatches(value: unknown, cls: unknown): boolean {
  const code = (cls as Record<symbol, unknown>)[CLASS_CODE];
  return (
    typeof value === 'object' && value !== null && code !== undefined && (value as Record<symbol, unknown>)[BRAND] === code
  );
}

function defineCode<T>(cls: T, code: ErrorCodeValue): T {
  Object.defineProperty(cls, CLASS_CODE, { value: code });
  return cls;
}

/** `ERR_FDLOOP_INVALID_ARGUMENT`: an argument has the wrong type or range. */
export class InvalidArgumentError extends FdloopError {
  /** The argument's name as in the documentation (`'fd'`, `'interest'`, `'delay'`…). */
  readonly argument: string;
  constructor(argument: string, message: string) {
    super(ErrorCode.INVALID_ARGUMENT, `${argument}: ${message}`);
    this.name = 'InvalidArgumentError';
    this.argument = argument;
  }
}
defineCode(InvalidArgumentError, ErrorCode.INVALID_ARGUMENT);

const RECEIVED_MAX = 40;

/**
 * How a wrong argument reads after "got" in an {@link InvalidArgumentError}'s message: its type and value, as Node's
 * `ERR_INVALID_ARG_TYPE` names them ("Received type string ('19')"), so a string `'19'` passed as a descriptor never
 * reads as the valid number 19. Every package formats received values with it.
 *
 * - numbers as they are (`19`, `-1`, `NaN`, `Infinity`): unquoted digits always mean a number;
 * - strings quoted after their type (`string '19'`, `string ''`), long ones shortened with `...`;
 * - other primitives after their type (`boolean true`, `bigint 19n`, `symbol Symbol(x)`);
 * - `null`, `undefined`, `function f` (or `an anonymous function`), `an instance of Foo` for objects
 *   (`an object with a null prototype` when there is no constructor).
 *
 * @example
 * ```ts
 * import { InvalidArgumentError, describeReceived } from '@fdloop/core';
 *
 * function port(value: unknown): number {
 *   if (typeof value !== 'number' || !Number.isInteger(value)) {
 *     throw new InvalidArgumentError('port', `must be an integer, got ${describeReceived(value)}`);
 *   }
 *   return value;
 * }
 * port('80'); // InvalidArgumentError: port: must be an integer, got string '80'
 * ```
 */
export function describeReceived(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return String(value);
    case 'string': {
      const text = inspect(value);
      return `string ${text.length > RECEIVED_MAX ? `${text.slice(0, RECEIVED_MAX - 3)}...` : text}`;
    }
    case 'boolean':
      return `boolean ${String(value)}`;
    case 'bigint':
      return `bigint ${String(value)}n`;
    case 'symbol':
      return `symbol ${String(value)}`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return value.name === '' ? 'an anonymous function' : `function ${value.name}`;
    default: {
      if (value === null) return 'null';
      const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor;
      if (typeof ctor?.name === 'string' && ctor.name !== '') return `an instance of ${ctor.name}`;
      return 'an object with a null prototype';
    }
  }
}

/** `ERR_FDLOOP_ALREADY_WATCHED`: one descriptor has at most one watcher per runtime. */
export class AlreadyWatchedError extends FdloopError {
  /** The descriptor. */
  readonly fd: number;
  constructor(fd: number) {
    super(
      ErrorCode.ALREADY_WATCHED,
      `fd ${fd} is already watched by this runtime; modify() the existing watcher or close() it first`,
    );
    this.name = 'AlreadyWatchedError';
    this.fd = fd;
  }
}
defineCode(AlreadyWatchedError, ErrorCode.ALREADY_WATCHED);

/** `ERR_FDLOOP_RUNTIME_CLOSED`: the runtime was closed. */
export class RuntimeClosedError extends FdloopError {
  constructor(operation: string) {
    super(ErrorCode.RUNTIME_CLOSED, `${operation}: the runtime is closed`);
    this.name = 'RuntimeClosedError';
  }
}
defineCode(RuntimeClosedError, ErrorCode.RUNTIME_CLOSED);

/** `ERR_FDLOOP_WATCHER_CLOSED`: the watcher was closed. */
export class WatcherClosedError extends FdloopError {
  constructor(operation: string, fd: number) {
    super(ErrorCode.WATCHER_CLOSED, `${operation}: the watcher of fd ${fd} is closed`);
    this.name = 'WatcherClosedError';
  }
}
defineCode(WatcherClosedError, ErrorCode.WATCHER_CLOSED);

/**
 * `ERR_FDLOOP_CANCELLED`: a pending promise or iterator was settled because its watcher or the runtime closed.
 * (An `AbortSignal` rejects with the signal's own `reason` instead, as `fetch` does.)
 */
export class CancelledError extends FdloopError {
  constructor(message = 'the operation was cancelled because the runtime closed') {
    super(ErrorCode.CANCELLED, message);
    this.name = 'CancelledError';
  }
}
defineCode(CancelledError, ErrorCode.CANCELLED);

/** `ERR_FDLOOP_UNSUPPORTED`: the backend lacks a feature. */
export class UnsupportedError extends FdloopError {
  /** The backend's name. */
  readonly backend: string;
  /** The missing feature. */
  readonly feature: string;
  constructor(backend: string, feature: string, hint?: string) {
    super(ErrorCode.UNSUPPORTED, `backend '${backend}' does not support ${feature}${hint ? `: ${hint}` : ''}`);
    this.name = 'UnsupportedError';
    this.backend = backend;
    this.feature = feature;
  }
}
defineCode(UnsupportedError, ErrorCode.UNSUPPORTED);

/** `ERR_FDLOOP_NO_BACKEND`: no backend given, none installed. */
export class NoBackendError extends FdloopError {
  /** What was tried, in order, and why each failed. */
  readonly tried: readonly string[];
  constructor(tried: readonly string[], install: string) {
    super(
      ErrorCode.NO_BACKEND,
      `no fdloop backend is available on ${process.platform}-${process.arch}. Install one: ${install}` +
        (tried.length > 0 ? `\n  tried:\n    ${tried.join('\n    ')}` : ''),
    );
    this.name = 'NoBackendError';
    this.tried = tried;
  }
}
defineCode(NoBackendError, ErrorCode.NO_BACKEND);

/** `ERR_FDLOOP_UNKNOWN_BACKEND`: a backend name that is not known. */
export class UnknownBackendError extends FdloopError {
  /** The name asked for. */
  readonly backendName: string;
  constructor(name: string, known: readonly string[]) {
    super(ErrorCode.UNKNOWN_BACKEND, `unknown backend '${name}'; known backends: ${known.join(', ')}`);
    this.name = 'UnknownBackendError';
    this.backendName = name;
  }
}
defineCode(UnknownBackendError, ErrorCode.UNKNOWN_BACKEND);

/** `ERR_FDLOOP_TOO_MANY_WATCHERS`: the slab is full. */
export class TooManyWatchersError extends FdloopError {
  constructor(limit: number) {
    super(ErrorCode.TOO_MANY_WATCHERS, `a runtime can hold at most ${limit} watchers at once`);
    this.name = 'TooManyWatchersError';
  }
}
defineCode(TooManyWatchersError, ErrorCode.TOO_MANY_WATCHERS);

/** `ERR_FDLOOP_ALREADY_RUNNING`: `run()` is already in progress. */
export class AlreadyRunningError extends FdloopError {
  constructor() {
    super(ErrorCode.ALREADY_RUNNING, 'run() is already in progress on this runtime');
    this.name = 'AlreadyRunningError';
  }
}
defineCode(AlreadyRunningError, ErrorCode.ALREADY_RUNNING);

/** `ERR_FDLOOP_TIMEOUT`: a socket or HTTP operation did not finish in time. */
export class TimeoutError extends FdloopError {
  /** What timed out (`'connect'`, `'idle'`, `'headers'`, `'request'`…). */
  readonly operation: string;
  /** The limit that was exceeded, in milliseconds. */
  readonly timeout: number;
  constructor(operation: string, timeout: number) {
    super(ErrorCode.TIMEOUT, `${operation} timed out after ${timeout} ms`);
    this.name = 'TimeoutError';
    this.operation = operation;
    this.timeout = timeout;
  }
}
defineCode(TimeoutError, ErrorCode.TIMEOUT);

/** `ERR_FDLOOP_SOCKET_CLOSED`: the socket closed before the operation finished. */
export class SocketClosedError extends FdloopError {
  constructor(message = 'the socket was closed') {
    super(ErrorCode.SOCKET_CLOSED, message);
    this.name = 'SocketClosedError';
  }
}
defineCode(SocketClosedError, ErrorCode.SOCKET_CLOSED);

/** `ERR_FDLOOP_HTTP_PARSE`: an HTTP message broke RFC 9112 or a limit. */
export class HttpParseError extends FdloopError {
  /** The status a server answers with: 400, 413, 414, 431, 501 or 505. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(ErrorCode.HTTP_PARSE, message);
    this.name = 'HttpParseError';
    this.status = status;
  }
}
defineCode(HttpParseError, ErrorCode.HTTP_PARSE);

/** `ERR_FDLOOP_POOL_QUEUE_FULL`: the thread pool's bounded queue is full (pools created with `onFull: 'reject'`). */
export class PoolQueueFullError extends FdloopError {
  /** The queue's bound. */
  readonly limit: number;
  constructor(limit: number) {
    super(ErrorCode.POOL_QUEUE_FULL, `the thread pool's queue is full (${limit} queued tasks); await pool.ready() before submitting more`);
    this.name = 'PoolQueueFullError';
    this.limit = limit;
  }
}
defineCode(PoolQueueFullError, ErrorCode.POOL_QUEUE_FULL);

/** `ERR_FDLOOP_POOL_WORKER_EXITED`: a pool worker exited or crashed while running a task. */
export class PoolWorkerExitedError extends FdloopError {
  /** The worker's thread name (`'pool-2'`). */
  readonly thread: string;
  /** The worker's exit code. */
  readonly exitCode: number;
  constructor(thread: string, exitCode: number, task: string, options?: ErrorOptions) {
    super(ErrorCode.POOL_WORKER_EXITED, `${thread} exited with code ${exitCode} while running task ${task}`, options);
    this.name = 'PoolWorkerExitedError';
    this.thread = thread;
    this.exitCode = exitCode;
  }
}
defineCode(PoolWorkerExitedError, ErrorCode.POOL_WORKER_EXITED);

/** `ERR_FDLOOP_POOL_TASK_LOAD`: a task kind's module or export could not be loaded in a pool worker. */
export class PoolTaskLoadError extends FdloopError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.POOL_TASK_LOAD, message, options);
    this.name = 'PoolTaskLoadError';
  }
}
defineCode(PoolTaskLoadError, ErrorCode.POOL_TASK_LOAD);

/**
 * `ERR_FDLOOP_POLLABLE_FD`: a file operation would have blocked a pool worker on a pollable descriptor (a FIFO,
 * socket or character device such as a tty). Those belong on the runtime's watchers (`rt.watch`,
 * `rt.readable`), where waiting costs no thread; a blocked pool thread is the bug of nodejs/node#23220.
 */
export class PollableFdError extends FdloopError {
  /** What the descriptor or path is: `'fifo'`, `'socket'` or `'character device'`. */
  readonly fileType: string;
  constructor(fileType: string, what: string) {
    super(
      ErrorCode.POLLABLE_FD,
      `${what} is a ${fileType}: a read or write of it can wait forever and would block a worker thread; watch it with rt.watch()/rt.readable() instead`,
    );
    this.name = 'PollableFdError';
    this.fileType = fileType;
  }
}
defineCode(PollableFdError, ErrorCode.POLLABLE_FD);

/**
 * `ERR_FDLOOP_CLOSED`: an I/O object (a serial port, a socket, a file handle) was used after it was closed, for
 * example a write after `close()`.
 */
export class ClosedError extends FdloopError {
  /** What was closed, for example `'serial port /dev/ttyUSB0'`. */
  readonly resource: string;
  constructor(resource: string, operation: string, options?: ErrorOptions) {
    super(ErrorCode.CLOSED, `${operation}: the ${resource} is closed`, options);
    this.name = 'ClosedError';
    this.resource = resource;
  }
}
defineCode(ClosedError, ErrorCode.CLOSED);

/**
 * `ERR_FDLOOP_LIBRARY`: a C library driven through fdloop (see {@link ownFd}) reported a failure of its own, not a
 * system call's (those are {@link ErrnoError}s): for example libmosquitto's `MOSQ_ERR_PROTOCOL`, or an MQTT broker
 * refusing a connection.
 */
export class LibraryError extends FdloopError {
  /** The library, for example `'libmosquitto'`. */
  readonly library: string;
  /** The library's own error number (`MOSQ_ERR_*`, a CONNACK return code…). */
  readonly libraryCode: number;
  /** The library's name for that number, for example `'MOSQ_ERR_PROTOCOL'` or `'CONNACK'`. */
  readonly libraryCodeName: string;
  constructor(library: string, libraryCode: number, libraryCodeName: string, message: string, options?: ErrorOptions) {
    super(ErrorCode.LIBRARY, `${library}: ${message} (${libraryCodeName} ${libraryCode})`, options);
    this.name = 'LibraryError';
    this.library = library;
    this.libraryCode = libraryCode;
    this.libraryCodeName = libraryCodeName;
  }
}
defineCode(LibraryError, ErrorCode.LIBRARY);

/**
 * `ERR_FDLOOP_WEBSOCKET_HANDSHAKE`: a WebSocket opening handshake failed — a server refused a malformed upgrade
 * request, or a client got an answer that is not a valid `101 Switching Protocols` (another status, a wrong
 * `Sec-WebSocket-Accept`, a subprotocol it did not offer…).
 */
export class WebSocketHandshakeError extends FdloopError {
  /** The HTTP status involved: the one received (client) or answered (server); `0` when there is none. */
  readonly status: number;
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(ErrorCode.WEBSOCKET_HANDSHAKE, message, options);
    this.name = 'WebSocketHandshakeError';
    this.status = status;
  }
}
defineCode(WebSocketHandshakeError, ErrorCode.WEBSOCKET_HANDSHAKE);

/**
 * `ERR_FDLOOP_WEBSOCKET_PROTOCOL`: a WebSocket peer broke RFC 6455 (an unmasked client frame, reserved bits or
 * opcodes, a bad close code…), sent text that is not UTF-8, or exceeded a limit. The connection is failed with
 * {@link WebSocketProtocolError.closeCode}.
 */
export class WebSocketProtocolError extends FdloopError {
  /** The close code sent to the peer: 1002 (protocol error), 1007 (invalid payload) or 1009 (too big). */
  readonly closeCode: number;
  constructor(closeCode: number, message: string) {
    super(ErrorCode.WEBSOCKET_PROTOCOL, message);
    this.name = 'WebSocketProtocolError';
    this.closeCode = closeCode;
  }
}
defineCode(WebSocketProtocolError, ErrorCode.WEBSOCKET_PROTOCOL);

const ERRNO_BRAND = Symbol.for('fdloop.error.errno');

/** What else an {@link ErrnoError} can say about the failed call. */
export interface ErrnoDetail {
  /** The path involved (shown quoted in the message). */
  readonly path?: string;
  /** The descriptor involved. */
  readonly fd?: number;
  /** The network address involved (shown as `address:port` in the message, like Node's socket errors). */
  readonly address?: string;
  /** The port, with `address` (`0` or absent for unix sockets). */
  readonly port?: number;
  /** A sentence appended after a colon. */
  readonly message?: string;
}

/**
 * A failed system call, shaped like Node's own errors: `code` is the errno name (`'EBADF'`), `errno` the
 * negative number as libuv reports it (`-9`), `syscall` the call that failed, and the message reads
 * `"epoll_ctl EBADF"` (with the path or descriptor appended when known).
 */
export class ErrnoError extends Error {
  /** The errno name, for example `'EBADF'`. */
  readonly code: string;
  /** The errno as a negative number, as in Node (`-9` for `EBADF` on Linux). */
  readonly errno: number;
  /** The system call that failed, for example `'epoll_ctl'`. */
  readonly syscall: string;
  /** The path involved, when there is one. */
  readonly path?: string;
  /** The descriptor involved, when there is one. */
  readonly fd?: number;
  /** The network address involved (an IP literal or a unix socket path), as in Node's `connect`/`bind` errors. */
  readonly address?: string;
  /** The port involved, with {@link ErrnoError.address}, when it is an IP address. */
  readonly port?: number;

  constructor(errno: number, syscall: string, detail?: ErrnoDetail) {
    const negative = errno > 0 ? -errno : errno;
    const code = systemErrorName(negative);
    // Node's shapes: "open ENOENT 'x'", "connect ECONNREFUSED 127.0.0.1:80"; ours adds "(fd N)" for descriptors.
    const endpoint = detail?.address !== undefined ? ` ${detail.address}${detail.port !== undefined && detail.port > 0 ? `:${detail.port}` : ''}` : '';
    const where = detail?.path !== undefined ? ` '${detail.path}'` : endpoint !== '' ? endpoint : detail?.fd !== undefined ? ` (fd ${detail.fd})` : '';
    super(`${syscall} ${code}${where}${detail?.message ? `: ${detail.message}` : ''}`);
    this.name = 'ErrnoError';
    this.code = code;
    this.errno = negative;
    this.syscall = syscall;
    if (detail?.path !== undefined) this.path = detail.path;
    if (detail?.fd !== undefined) this.fd = detail.fd;
    if (detail?.address !== undefined) this.address = detail.address;
    if (detail?.address !== undefined && detail.port !== undefined && detail.port > 0) this.port = detail.port;
    Object.defineProperty(this, ERRNO_BRAND, { value: true, enumerable: false });
  }

  /** `instanceof` that also recognises errno errors created by another copy of `@fdloop/core`. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ERRNO_BRAND] === true;
  }
}

let systemErrors: Map<number, [string, string]> | undefined;
let errnoByName: Map<string, number> | undefined;

/**
 * Node's table of this platform's system errors (`util.getSystemErrorMap()`: negative errno → `[name, description]`),
 * read once per thread.
 * @internal
 */
export function systemErrorTable(): Map<number, [string, string]> {
  systemErrors ??= getSystemErrorMap();
  return systemErrors;
}

/**
 * Node's (negative) errno for an `E*` name on this platform, as Node numbers it (`-107` for `'ENOTCONN'` on Linux,
 * libuv's `-4053` on Windows, where `os.constants.errno` differs): the first of `names` the platform knows
 * (`'EOPNOTSUPP'` is `'ENOTSUP'` in libuv's Windows table), else `UNKNOWN`'s number.
 *
 * @example
 * ```ts
 * import { systemErrno } from '@fdloop/core';
 * if (rc === systemErrno('ENOTCONN')) return; // the peer is already gone
 * ```
 */
export function systemErrno(...names: string[]): number {
  if (errnoByName === undefined) {
    errnoByName = new Map();
    for (const [errno, [name]] of systemErrorTable()) errnoByName.set(name, errno);
  }
  for (const name of names) {
    const errno = errnoByName.get(name);
    if (errno !== undefined) return errno;
  }
  return errnoByName.get('UNKNOWN') ?? -4094;
}

function systemErrorName(negativeErrno: number): string {
  try {
    return getSystemErrorName(negativeErrno);
  } catch {
    return `Unknown system error ${negativeErrno}`;
  }
}

/**
 * Build an {@link ErrnoError}. Backends call it with the errno their native code returned (positive or
 * negative, both accepted) and the name of the failing system call.
 *
 * @example
 * ```ts
 * const rc = native.ctl(fd, token, interest);
 * if (rc < 0) throw errnoError(rc, 'epoll_ctl', { fd });
 * ```
 */
export function errnoError(errno: number, syscall: string, detail?: ErrnoDetail): ErrnoError {
  return new ErrnoError(errno, syscall, detail);
}
