/**
 * Errors. Library errors are classes with a stable `code` (`ERR_FDLOOP_…`); system-call failures are
 * {@link ErrnoError}s shaped like Node's own (`code`, negative `errno`, `syscall`, message `"epoll_ctl EBADF"`).
 * `instanceof` works across duplicate installs of `@fdloop/core` because each class checks a `Symbol.for` brand.
 */

import { getSystemErrorName } from 'node:util';

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

const ERRNO_BRAND = Symbol.for('fdloop.error.errno');

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

  constructor(errno: number, syscall: string, detail?: { path?: string; fd?: number; message?: string }) {
    const negative = errno > 0 ? -errno : errno;
    const code = systemErrorName(negative);
    const where = detail?.path !== undefined ? ` '${detail.path}'` : detail?.fd !== undefined ? ` (fd ${detail.fd})` : '';
    super(`${syscall} ${code}${where}${detail?.message ? `: ${detail.message}` : ''}`);
    this.name = 'ErrnoError';
    this.code = code;
    this.errno = negative;
    this.syscall = syscall;
    if (detail?.path !== undefined) this.path = detail.path;
    if (detail?.fd !== undefined) this.fd = detail.fd;
    Object.defineProperty(this, ERRNO_BRAND, { value: true, enumerable: false });
  }

  /** `instanceof` that also recognises errno errors created by another copy of `@fdloop/core`. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ERRNO_BRAND] === true;
  }
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
export function errnoError(errno: number, syscall: string, detail?: { path?: string; fd?: number; message?: string }): ErrnoError {
  return new ErrnoError(errno, syscall, detail);
}
