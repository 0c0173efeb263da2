/**
 * Windows errors as Node-shaped `ErrnoError`s. The addon holds the one table from Win32 and WSA codes (and,
 * through `RtlNtStatusToDosError`, NTSTATUS values) to Node's `E*` names; here the name becomes the negative
 * errno Node uses on this platform (libuv's numbering, from `util.getSystemErrorMap()`), so `err.code`,
 * `err.errno` and `err.syscall` read exactly as they would for an error raised by Node itself.
 *
 * @module
 */

import { errnoError, systemErrno, type ErrnoError } from '@fdloop/core';
import { loadNative } from './native.js';

/**
 * Node's (negative) errno for an `E*` name on this platform, for example `-4083` for `'EBADF'` on Windows;
 * `UNKNOWN`'s number for a name Node does not know (`systemErrno` of `@fdloop/core`).
 */
export function errnoOf(name: string): number {
  return systemErrno(name);
}

/**
 * The `E*` name of a Win32 or WSA error code (`6` → `'EBADF'`, `10054` → `'ECONNRESET'`), from the addon's table;
 * `'UNKNOWN'` for a code the table does not list.
 *
 * @example
 * ```ts
 * import { winErrorName } from '@fdloop/backend-iocp';
 * winErrorName(10035); // 'EAGAIN' (WSAEWOULDBLOCK)
 * ```
 */
export function winErrorName(win32: number): string {
  return loadNative().sys.errorName(win32);
}

/**
 * Build an `ErrnoError` from a Win32 or WSA error code (positive or negative), naming the failing call.
 * The message keeps the Windows code: `"ReadFile EBADF (fd 412): Windows error 6"`.
 *
 * @example
 * ```ts
 * throw winError(6, 'ReadFile', { fd: handle }); // err.code === 'EBADF'
 * ```
 */
export function winError(win32: number, syscall: string, detail?: { fd?: number; path?: string; message?: string }): ErrnoError {
  const code = Math.abs(win32);
  const extra = detail?.message ? `; ${detail.message}` : '';
  return errnoError(errnoOf(winErrorName(code)), syscall, { ...detail, message: `Windows error ${code}${extra}` });
}
