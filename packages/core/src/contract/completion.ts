/**
 * The optional completion I/O layer (DESIGN.md decision 6): "do this read and tell me when it is done", as
 * io_uring on Linux and IOCP on Windows offer it, next to the readiness contract. A backend that has it exposes
 * a {@link CompletionProvider} as `backend.completion`, and sets `capabilities.completionIo` when the layer is
 * usable whatever the kernel (IOCP; epoll's io_uring may be forbidden by the kernel, so epoll leaves it `false`
 * and its provider's `open` says why when it cannot open). Modules (mod-fs) use the layer when it opens and fall
 * back to the thread pool otherwise.
 *
 * Guarantees an implementation gives:
 * 1. **Never blocks the loop thread**, and never waits on a pollable descriptor (FIFO, socket, tty): those are
 *    refused with a `PollableFdError`, since their reads can wait forever.
 * 2. **Errors are node:fs's**: the same `message`, `code`, negative `errno`, `syscall` and `path` as the
 *    corresponding node:fs call would give.
 * 3. **Counts as pending work** of its runtime while an operation is in flight, and keeps nothing alive
 *    otherwise.
 * 4. **Dispose is final**: pending operations reject with a `CancelledError`, the kernel is told to cancel, and
 *    memory the kernel may still write is not freed before it lets go.
 */

import { systemErrorTable } from '../errors.js';
import type { Backend } from './index.js';
import type { Runtime } from '../runtime.js';

/** File operations by completion, bound to one runtime. */
export interface CompletionIo {
  /** The mechanism: `'io_uring'`, `'iocp'`. */
  readonly kind: string;
  /** Read a whole regular file (open, size, read until done, close, in the kernel's queue). */
  readFile(path: string): Promise<Buffer>;
  /** Open a file with numeric `flags` (`fs.constants.O_*`; close-on-exec is added) and `mode`. */
  open(path: string, flags: number, mode: number): Promise<number>;
  /** Read up to `length` bytes at `position` (`null`: the file position); resolves with the bytes read. */
  read(fd: number, length: number, position: number | null): Promise<Buffer>;
  /** Write `data` at `position` (`null`: the file position); resolves with the bytes written. */
  write(fd: number, data: Uint8Array, position: number | null): Promise<number>;
  /** Close a descriptor. */
  close(fd: number): Promise<void>;
  /** Release the layer; pending operations reject with a `CancelledError`. Idempotent. */
  dispose(): void;
}

/** Why a completion layer could not be opened (the kernel forbids it, an old kernel…). */
export interface CompletionUnavailable {
  /** A sentence for logs and `UnsupportedError` hints, for example `kernel.io_uring_disabled is 2`. */
  readonly unavailable: string;
}

/** What a backend with completion I/O exposes as `backend.completion`. */
export interface CompletionProvider {
  /** Open the layer for `runtime` (one per runtime), or say why it is unavailable. */
  open(runtime: Runtime): CompletionIo | CompletionUnavailable;
}

/** A backend with the completion layer. */
export interface CompletionBackend extends Backend {
  /** The completion layer's entry point. */
  readonly completion: CompletionProvider;
}

/**
 * The backend's completion provider, or `undefined` when it has none.
 * @example
 * ```ts
 * const provider = completionProvider(rt.backend);
 * const io = provider?.open(rt);
 * if (io !== undefined && !('unavailable' in io)) console.log(io.kind); // "io_uring"
 * ```
 */
export function completionProvider(backend: Backend): CompletionProvider | undefined {
  const candidate = (backend as Partial<CompletionBackend>).completion;
  return candidate !== undefined && typeof candidate.open === 'function' ? candidate : undefined;
}

/**
 * Whether this Node's `fs.promises.readFile` names the path when the read itself fails (`EISDIR: …, read '/dir'`):
 * Node 26 does, 20–24 do not (the failed `open` always names it). A completion layer's `readFile`, and anything
 * else that promises node:fs's errors, follows the running Node.
 */
export const READFILE_ERROR_NAMES_PATH: boolean = Number(process.versions.node.split('.')[0]) >= 26;

/**
 * An error shaped exactly like node:fs's for the same failure (guarantee 2 of the completion layer): the message
 * `"ENOENT: no such file or directory, open '/x'"`, `code`, the negative `errno` Node uses on this platform,
 * `syscall` and `path` (when given). For completion layers; other fdloop errors are `ErrnoError`s.
 * @param errno - the negative errno as Node numbers it here (`-2` for `ENOENT` on Linux, libuv's on Windows).
 * @example
 * ```ts
 * throw nodeFsError(-2, 'open', '/missing'); // ENOENT: no such file or directory, open '/missing'
 * ```
 */
export function nodeFsError(errno: number, syscall: string, path?: string): NodeJS.ErrnoException {
  const [code, description] = systemErrorTable().get(errno) ?? [`Unknown system error ${errno}`, 'unknown error'];
  const error = new Error(`${code}: ${description}, ${syscall}${path !== undefined ? ` '${path}'` : ''}`) as NodeJS.ErrnoException;
  error.errno = errno;
  error.code = code;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  return error;
}
