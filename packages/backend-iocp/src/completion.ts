/**
 * IOCP completion I/O for fdloop's runtime: the optional completion layer of the contract
 * ({@link CompletionProvider}) on Windows, used by `@fdloop/mod-fs` when available (`fs.io === 'iocp'`).
 *
 * Each {@link CompletionIo} has a poller of its own (its own completion port and thread), so results never pass
 * through the runtime's sink. A file is opened twice over: an overlapped handle (`FILE_FLAG_OVERLAPPED`), which
 * the poller's `ReadFile`/`WriteFile` use, and a synchronous handle on the same file (`ReOpenFile`) wrapped as a
 * C-runtime descriptor of node.exe's own CRT by node.exe's exported `uv_open_osfhandle` — the fd handed out, so
 * node:fs (and mod-fs's thread pool: `fstat`, `ftruncate`…) accept it. node:fs must never see the overlapped
 * handle: libuv's synchronous calls do not wait for it (see the README).
 *
 * @module
 */

import { close as fsClose, read as fsRead, write as fsWrite, constants as fsConstants } from 'node:fs';
import { toNamespacedPath } from 'node:path';
import {
  CancelledError,
  InvalidArgumentError,
  PollableFdError,
  READFILE_ERROR_NAMES_PATH,
  nodeFsError,
  type CompletionIo,
  type CompletionProvider,
  type CompletionUnavailable,
  type Runtime,
} from '@fdloop/core';
import { errnoOf, winErrorName } from './errors.js';
import { loadNative, type NativeCompletion } from './native.js';
import { IocpPoller } from './poller.js';

const ERROR_FILE_EXISTS = 80;
const FILE_TYPE_CHAR = 2;
const FILE_TYPE_PIPE = 3;
/** The first read of a file whose size is 0 (or unknown), and the probe read for end of file. */
const PROBE_SIZE = 8192;
/** Completions per batch of the layer's own poller. */
const BATCH_SIZE = 64;


/** The node:fs error of a Win32 code, through the addon's table (the one libuv's mapping agrees with). */
function winFsError(win32: number, syscall: string, path: string | undefined): NodeJS.ErrnoException {
  return nodeFsError(errnoOf(winErrorName(win32)), syscall, path);
}

function pollableType(fileType: number): string {
  if (fileType === FILE_TYPE_PIPE) return 'fifo'; // pipes and sockets
  if (fileType === FILE_TYPE_CHAR) return 'character device'; // consoles, COM ports, NUL
  return 'file of unknown type';
}

function checkPath(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new InvalidArgumentError('path', 'must be a non-empty string without NUL bytes');
  }
  return path;
}

/** One descriptor this layer opened. */
interface OpenFile {
  /** The overlapped handle the poller reads and writes. */
  readonly handle: number;
  /** Opened with `O_APPEND`: every write goes to the end of the file. */
  readonly append: boolean;
  /**
   * The last `position: null` operation queued on it: they run one after another, each at the file pointer of
   * the fd's own handle (node:fs's), which it advances.
   */
  tail: Promise<unknown>;
}

/** One poller operation in flight. */
interface Op {
  readonly done: (result: number) => void;
  readonly fail: (error: unknown) => void;
  readonly release: () => void;
}

class IocpIo implements CompletionIo {
  readonly kind = 'iocp';
  readonly #rt: Runtime;
  readonly #native: NativeCompletion;
  /** Created by the first read or write: a layer that only opens and closes costs no thread. */
  #lazyPoller: IocpPoller | undefined;
  readonly #files = new Map<number, OpenFile>();
  readonly #ops = new Map<number, Op>();
  /** Operations that run elsewhere (node:fs on descriptors this layer did not open), rejected by dispose. */
  readonly #outside = new Set<(error: unknown) => void>();
  #nextToken = 1;
  #disposed = false;

  constructor(rt: Runtime, native: NativeCompletion) {
    this.#rt = rt;
    this.#native = native;
  }

  get #poller(): IocpPoller {
    // A new poller is unref'd: it keeps the process alive only while operations are in flight (#io).
    this.#lazyPoller ??= new IocpPoller({ batchSize: BATCH_SIZE, sink: { onEvents: (count) => this.#deliver(count) } });
    return this.#lazyPoller;
  }

  readFile(path: string): Promise<Buffer> {
    return this.#guard(async () => {
      const target = checkPath(path);
      const release = this.#rt.hold('iocp readFile');
      let handle = 0;
      try {
        const [error, opened, , fileType] = await this.#nativeOpen(target, fsConstants.O_RDONLY, 0, false);
        if (error !== 0) throw winFsError(error, 'open', target);
        if (opened === 0) throw new PollableFdError(pollableType(fileType), `'${target}'`);
        handle = opened;
        const [infoError, size] = this.#native.info(handle);
        let buffer = Buffer.allocUnsafe(infoError === 0 && size > 0 ? size : PROBE_SIZE);
        let length = 0;
        for (;;) {
          if (length === buffer.length) {
            // Full: a probe read says whether the file grew (or its size was unknown) or this is the end.
            const probe = Buffer.allocUnsafe(PROBE_SIZE);
            const n = await this.#io(false, handle, probe, length, 'read', READFILE_ERROR_NAMES_PATH ? target : undefined);
            if (n === 0) break;
            const grown = Buffer.allocUnsafe(Math.max(buffer.length * 2, length + n));
            buffer.copy(grown, 0, 0, length);
            probe.copy(grown, length, 0, n);
            buffer = grown;
            length += n;
            continue;
          }
          const n = await this.#io(false, handle, buffer.subarray(length), length, 'read', READFILE_ERROR_NAMES_PATH ? target : undefined);
          if (n === 0) break;
          length += n;
        }
        return length === buffer.length ? buffer : Buffer.from(buffer.subarray(0, length));
      } finally {
        // Nothing of ours is in flight on it any more: every read above has been delivered (or disposed of).
        if (handle !== 0) this.#native.closeHandle(handle);
        release();
      }
    });
  }

  open(path: string, flags: number, mode: number): Promise<number> {
    return this.#guard(async () => {
      const target = checkPath(path);
      const [error, handle, fd, fileType] = await this.#nativeOpen(target, flags >>> 0, mode >>> 0, true);
      if (error !== 0) {
        // libuv: CREATE on an existing directory fails with ERROR_FILE_EXISTS, which it reports as EISDIR.
        const creat = (flags & fsConstants.O_CREAT) !== 0 && (flags & fsConstants.O_EXCL) === 0;
        if (error === ERROR_FILE_EXISTS && creat) throw nodeFsError(errnoOf('EISDIR'), 'open', target);
        throw winFsError(error, 'open', target);
      }
      if (handle === 0) throw new PollableFdError(pollableType(fileType), `'${target}'`);
      this.#files.set(fd, { handle, append: (flags & fsConstants.O_APPEND) !== 0, tail: Promise.resolve() });
      return fd;
    });
  }

  read(fd: number, length: number, position: number | null): Promise<Buffer> {
    return this.#guard(async () => {
      const file = this.#files.get(fd);
      const buffer = Buffer.allocUnsafe(length);
      if (file === undefined) {
        // Not opened here: node:fs reads it (on the thread pool), with node:fs's own errors (EBADF…).
        const n = await this.#outsideOp<number>((cb) => fsRead(fd, buffer, 0, length, position, cb));
        return buffer.subarray(0, n);
      }
      const n =
        position === null
          ? await this.#atFilePointer(fd, file, 'read', async (at) => [at, await this.#io(false, file.handle, buffer, at, 'read', undefined)])
          : await this.#io(false, file.handle, buffer, position, 'read', undefined);
      return n === length ? buffer : buffer.subarray(0, n);
    });
  }

  write(fd: number, data: Uint8Array, position: number | null): Promise<number> {
    return this.#guard(async () => {
      const file = this.#files.get(fd);
      if (file === undefined) {
        return this.#outsideOp<number>((cb) => fsWrite(fd, data, 0, data.byteLength, position, cb));
      }
      const write = async (at: number): Promise<[number, number]> => {
        if (file.append) {
          // The handle has FILE_APPEND_DATA without FILE_WRITE_DATA, so the kernel writes at the end whatever the
          // offset; naming the current end keeps the file pointer's bookkeeping right too.
          const [error, size] = this.#native.info(file.handle);
          if (error !== 0) throw winFsError(error, 'write', undefined);
          at = size;
        }
        return [at, await this.#io(true, file.handle, data, at, 'write', undefined)];
      };
      return position === null ? this.#atFilePointer(fd, file, 'write', write) : (await write(position))[1];
    });
  }

  close(fd: number): Promise<void> {
    return this.#guard(() => {
      const file = this.#files.get(fd);
      if (file !== undefined) {
        this.#files.delete(fd);
        // Operations still in flight on it end with ECANCELED (their OVERLAPPEDs come back through the port).
        this.#native.closeHandle(file.handle);
      }
      // The descriptor belongs to node.exe's C runtime: only node:fs may close it (fs.close's own errors).
      return this.#outsideOp<void>((cb) => fsClose(fd, (err) => cb(err, undefined)));
    });
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    // Stops the thread, cancels every operation and waits until the kernel hands each OVERLAPPED back (memory
    // it still owns after 5 s is leaked, never freed).
    this.#lazyPoller?.close();
    const cancelled = new CancelledError('the IOCP completion layer was disposed before the operation finished');
    for (const op of this.#ops.values()) {
      op.release();
      op.fail(cancelled);
    }
    this.#ops.clear();
    for (const fail of this.#outside) fail(cancelled);
    this.#outside.clear();
    // The descriptors stay valid node:fs descriptors; only the overlapped twins go.
    for (const file of this.#files.values()) this.#native.closeHandle(file.handle);
    this.#files.clear();
  }

  /**
   * A `position: null` operation: after the ones queued before it on `fd`, at the file pointer of the fd's handle
   * (the one node:fs's `position: null` calls use, as on POSIX where the two share one open file description),
   * which then moves past what was transferred. `op` gets the position and resolves with where it transferred
   * (an append names the end of the file instead) and the byte count.
   */
  #atFilePointer(fd: number, file: OpenFile, syscall: string, op: (at: number) => Promise<[number, number]>): Promise<number> {
    const run = async (): Promise<number> => {
      const [error, at] = this.#native.filePointer(fd);
      if (error !== 0) throw winFsError(error, syscall, undefined);
      const [start, n] = await op(at);
      const [moveError] = this.#native.filePointer(fd, start + n);
      if (moveError !== 0) throw winFsError(moveError, syscall, undefined);
      return n;
    };
    const result = file.tail.then(run, run);
    file.tail = result.catch(() => undefined);
    return result;
  }

  /** Run `fn` unless disposed; a synchronous throw becomes a rejection. */
  #guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#disposed) return Promise.reject(new CancelledError('the IOCP completion layer is disposed'));
    try {
      return fn();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** One overlapped ReadFile/WriteFile through the poller; resolves with the byte count. */
  #io(write: boolean, handle: number, buffer: Uint8Array, position: number, syscall: string, path: string | undefined): Promise<number> {
    if (this.#disposed) return Promise.reject(new CancelledError('the IOCP completion layer is disposed'));
    return new Promise<number>((resolve, reject) => {
      const token = this.#nextToken++;
      const release = this.#rt.hold(`iocp ${syscall}`);
      try {
        if (write) this.#poller.write(handle, buffer, token, position);
        else this.#poller.read(handle, buffer, token, position);
      } catch (error) {
        release();
        const e = error as NodeJS.ErrnoException;
        reject(typeof e.errno === 'number' ? nodeFsError(e.errno, syscall, path) : error);
        return;
      }
      if (this.#ops.size === 0) this.#poller.ref();
      this.#ops.set(token, {
        release,
        done: (result) => (result < 0 ? reject(nodeFsError(result, syscall, path)) : resolve(result)),
        fail: reject,
      });
    });
  }

  /**
   * `CreateFileW` (and for a descriptor `ReOpenFile` + `uv_open_osfhandle`) on the thread pool, counted as
   * pending work. What an open finishing after dispose made is closed again.
   */
  #nativeOpen(target: string, flags: number, mode: number, wantFd: boolean): Promise<[number, number, number, number]> {
    return new Promise((resolve, reject) => {
      const release = this.#rt.hold('iocp open');
      const fail = (error: unknown): void => {
        release();
        reject(error);
      };
      this.#outside.add(fail);
      this.#native.open(toNamespacedPath(target), flags, mode, wantFd, (result) => {
        if (!this.#outside.delete(fail)) {
          const [error, handle, fd] = result;
          if (error === 0 && handle !== 0) {
            this.#native.closeHandle(handle);
            if (fd >= 0) fsClose(fd, () => undefined);
          }
          return;
        }
        release();
        resolve(result);
      });
    });
  }

  /** A node:fs call counted as pending work and rejected by dispose. */
  #outsideOp<T>(start: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const release = this.#rt.hold('iocp node:fs');
      const fail = (error: unknown): void => {
        release();
        reject(error);
      };
      this.#outside.add(fail);
      start((err, value) => {
        if (!this.#outside.delete(fail)) return; // disposed meanwhile: already rejected
        release();
        if (err !== null) reject(err);
        else resolve(value);
      });
    });
  }

  #deliver(count: number): void {
    const events = this.#poller.events;
    for (let i = 0; i < count; i++) {
      const token = events[2 * i] as number;
      const op = this.#ops.get(token);
      if (op === undefined) continue;
      this.#ops.delete(token);
      op.release();
      op.done(events[2 * i + 1] as number);
    }
    if (this.#ops.size === 0 && !this.#disposed) this.#poller.unref();
  }
}

/**
 * The IOCP completion layer of the iocp backend (`iocp().completion`). `open(rt)` creates the layer for that
 * runtime — a poller of its own — or returns `{ unavailable }` when node.exe does not export `uv_open_osfhandle`
 * (an embedder's executable), without which no node:fs descriptor can be made.
 *
 * @example
 * ```ts
 * const io = iocpCompletionProvider.open(rt);
 * if (!('unavailable' in io)) console.log((await io.readFile('C:\\Windows\\win.ini')).toString());
 * ```
 */
export const iocpCompletionProvider: CompletionProvider = Object.freeze({
  open(rt: Runtime): CompletionIo | CompletionUnavailable {
    const native = loadNative().completion;
    if (native === undefined) return { unavailable: 'the native addon was built without the completion layer' };
    if (!native.available()) {
      return { unavailable: "the executable does not export libuv's uv_open_osfhandle, so no node:fs descriptor can be made" };
    }
    return new IocpIo(rt, native);
  },
});
