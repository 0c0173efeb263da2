/**
 * `@fdloop/mod-fs`: files for fdloop. Every operation runs on the runtime's thread pool (`pool-1…N`) with
 * node:fs's own synchronous calls, so results and errors are those of node:fs; operations issued in the same
 * tick travel to the workers in batches (one message for up to {@link FsModuleOptions.batchSize} operations),
 * which is where the speed over `node:fs/promises` comes from. Streams and async iterators read and write large
 * files in chunks. Pollable files — FIFOs, sockets, ttys and other character devices except the memory devices
 * (`/dev/null`, `/dev/zero`, `/dev/urandom`) — are refused with a `PollableFdError`
 * (`ERR_FDLOOP_POLLABLE_FD`): a read of those can wait forever and would block a pool thread (nodejs/node#23220);
 * they belong on the runtime's watchers.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { fsModule } from '@fdloop/mod-fs';
 *
 * const rt = createRuntime();
 * const fs = rt.use(fsModule());
 * await rt.run(async () => {
 *   await fs.writeFile('/tmp/hello.txt', 'hello');
 *   console.log(await fs.readFile('/tmp/hello.txt', 'utf8')); // "hello"
 *   for await (const chunk of fs.createReadStream('/tmp/hello.txt')) console.log(chunk.length);
 * });
 * await rt.close();
 * ```
 *
 * @packageDocumentation
 */

import { constants as fsConstants, existsSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  InvalidArgumentError,
  describeReceived,
  PollableFdError,
  UnsupportedError,
  completionProvider,
  defineModule,
  type CompletionIo,
  type FdloopModule,
  type ModuleContext,
  type PathWatchCallback,
  type PathWatchOptions,
  type PathWatcher,
  type TaskKind,
} from '@fdloop/core';
import { DirEntry, FileStats } from './stats.js';
import type { FsErrorData, FsOp, FsResult } from './tasks.js';

export { DirEntry, FileStats } from './stats.js';

function tasksUrl(): URL {
  const here = new URL('./tasks.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  // Running the TypeScript sources (this package's own tests): the workers load the compiled file.
  return new URL('../dist/tasks.js', import.meta.url);
}

/** A path: a string or a `file:` URL. */
export type PathLike = string | URL;

/** Text encodings accepted where node:fs accepts them. */
export type Encoding = BufferEncoding;

/** What {@link FsApi.read} resolves with. */
export interface ReadResult<T extends Uint8Array> {
  /** Bytes read into the buffer; `0` at end of file. */
  readonly bytesRead: number;
  /** The buffer passed in. */
  readonly buffer: T;
}

/** What {@link FsApi.write} resolves with. */
export interface WriteResult<T extends Uint8Array> {
  /** Bytes written (may be fewer than asked, as with write(2)). */
  readonly bytesWritten: number;
  /** The buffer passed in. */
  readonly buffer: T;
}

/** Options of {@link FsApi.readFile}. */
export interface ReadFileOptions {
  /** Decode to a string with this encoding. Defaults to none (a `Buffer`). */
  readonly encoding?: Encoding | null;
  /** Open flag. Defaults to `'r'`. */
  readonly flag?: string;
  /** Cancel: dropped if still queued, rejected at once if running. */
  readonly signal?: AbortSignal;
}

/** Options of {@link FsApi.writeFile} and {@link FsApi.appendFile}. */
export interface WriteFileOptions {
  /** Encoding of string data. Defaults to `'utf8'`. */
  readonly encoding?: Encoding;
  /** Mode of a created file. Defaults to `0o666` (before the umask). */
  readonly mode?: number;
  /** Open flag. Defaults to `'w'` (`'a'` for appendFile). */
  readonly flag?: string;
  /** Cancel: dropped if still queued, rejected at once if running. */
  readonly signal?: AbortSignal;
}

/** Options of {@link FsApi.createReadStream} and {@link FsApi.chunks}. */
export interface ReadStreamOptions {
  /** First byte to read. Defaults to `0`. */
  readonly start?: number;
  /** Last byte to read, inclusive (as in node:fs). Defaults to end of file. */
  readonly end?: number;
  /** Bytes per read. Defaults to `65536`. */
  readonly highWaterMark?: number;
  /** Stop reading; the stream is destroyed with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** Options of {@link FsApi.createWriteStream}. */
export interface WriteStreamOptions {
  /** Open flag. Defaults to `'w'`. */
  readonly flags?: string;
  /** Mode of a created file. Defaults to `0o666`. */
  readonly mode?: number;
  /** Buffer this many bytes before `write()` asks the writer to wait. Defaults to `65536`. */
  readonly highWaterMark?: number;
  /** Call fsync before closing. Defaults to `false`. */
  readonly flush?: boolean;
}

/**
 * The API of {@link fsModule} for one runtime. Every method returns a promise; `callbackApi(fs)` from
 * `@fdloop/core` gives the callback form (`(err, value)` as the last argument).
 */
export interface FsApi {
  /**
   * How `open`/`close`/`read`/`write`/`readFile` run: the kind of the backend's completion layer (`'io_uring'` on
   * Linux with backend-epoll, `'iocp'` on Windows with backend-iocp) or `'pool'` (node:fs calls on the thread
   * pool). Every other operation always runs on the pool.
   */
  readonly io: 'pool' | 'io_uring' | 'iocp' | (string & {});
  /** Open a file; resolves with the descriptor. `flags` defaults to `'r'`, `mode` to `0o666`. */
  open(path: PathLike, flags?: string | number, mode?: number): Promise<number>;
  /** Close a descriptor. */
  close(fd: number): Promise<void>;
  /**
   * Read up to `length` bytes at `position` (`null`: the current file position) into `buffer` at `offset`.
   * Resolves with the bytes read (0 at end of file) and the buffer, like `FileHandle.read`.
   */
  read<T extends Uint8Array>(fd: number, buffer: T, offset?: number, length?: number, position?: number | null): Promise<ReadResult<T>>;
  /** Write `buffer[offset, offset+length)` at `position` (`null`: the current position). */
  write<T extends Uint8Array>(fd: number, buffer: T, offset?: number, length?: number, position?: number | null): Promise<WriteResult<T>>;
  /**
   * Read a whole file.
   * @example
   * ```ts
   * const text = await fs.readFile('test.txt', 'utf8');
   * ```
   */
  readFile(path: PathLike | number, options: Encoding | (ReadFileOptions & { encoding: Encoding })): Promise<string>;
  /** Read a whole file as bytes. */
  readFile(path: PathLike | number, options?: ReadFileOptions & { encoding?: null }): Promise<Buffer>;
  /** Write a whole file (replacing it). */
  writeFile(path: PathLike | number, data: string | Uint8Array, options?: Encoding | WriteFileOptions): Promise<void>;
  /** Append to a file (creating it). */
  appendFile(path: PathLike | number, data: string | Uint8Array, options?: Encoding | WriteFileOptions): Promise<void>;
  /** File status, following symbolic links. */
  stat(path: PathLike): Promise<FileStats>;
  /** File status of the link itself. */
  lstat(path: PathLike): Promise<FileStats>;
  /** File status of an open descriptor. */
  fstat(fd: number): Promise<FileStats>;
  /** Directory entry names. */
  readdir(path: PathLike, options?: { withFileTypes?: false }): Promise<string[]>;
  /** Directory entries with their types. */
  readdir(path: PathLike, options: { withFileTypes: true }): Promise<DirEntry[]>;
  /** Create a directory; with `recursive`, resolves with the first directory created (or undefined). */
  mkdir(path: PathLike, options?: { recursive?: boolean; mode?: number }): Promise<string | undefined>;
  /** Remove a file or (with `recursive`) a directory tree; `force` ignores a missing path. */
  rm(path: PathLike, options?: { recursive?: boolean; force?: boolean }): Promise<void>;
  /** Remove a file. */
  unlink(path: PathLike): Promise<void>;
  /** Remove an empty directory. */
  rmdir(path: PathLike): Promise<void>;
  /** Rename (move) a file or directory. */
  rename(oldPath: PathLike, newPath: PathLike): Promise<void>;
  /** Copy a file; `mode` takes node:fs's `COPYFILE_*` flags. Defaults to `0`. */
  copyFile(src: PathLike, dest: PathLike, mode?: number): Promise<void>;
  /** Truncate (or extend with zeros) a file to `length` bytes. Defaults to `0`. */
  truncate(path: PathLike, length?: number): Promise<void>;
  /** Truncate an open descriptor. */
  ftruncate(fd: number, length?: number): Promise<void>;
  /** Flush a descriptor's data and metadata to the device. */
  fsync(fd: number): Promise<void>;
  /** Flush a descriptor's data to the device. */
  fdatasync(fd: number): Promise<void>;
  /**
   * A `Readable` over a file, reading `highWaterMark` bytes per pool task. It is also an async iterator.
   * @example
   * ```ts
   * for await (const chunk of fs.createReadStream('big.bin')) total += chunk.length;
   * ```
   */
  createReadStream(path: PathLike, options?: ReadStreamOptions): Readable;
  /** A `Writable` to a file; each chunk is one pool task, in order. */
  createWriteStream(path: PathLike, options?: WriteStreamOptions): Writable;
  /**
   * An async iterator of a file's chunks without a stream in between (one read ahead).
   * @example
   * ```ts
   * for await (const chunk of fs.chunks('big.bin', { highWaterMark: 1 << 20 })) hash.update(chunk);
   * ```
   */
  chunks(path: PathLike, options?: ReadStreamOptions): AsyncIterableIterator<Buffer>;
  /**
   * Watch a file or directory through the runtime's path-watch event source (inotify on Linux): a callback per
   * event, or `for await` over the returned watcher. It keeps the runtime alive until closed. Events are the
   * runtime's `PathEvent`s (`create`, `modify`, `closeWrite`, `delete`, `rename`, …, `overflow`).
   * @throws UnsupportedError when the backend has no path watching; ErrnoError `ENOENT` for a missing path.
   * @example
   * ```ts
   * const w = fs.watch('/etc', (ev) => print(ev.kind, ev.path));
   * // later: w.close();
   * ```
   */
  watch(path: PathLike, options?: PathWatchOptions, callback?: PathWatchCallback): PathWatcher;
  /** Watch with a callback and default options. */
  watch(path: PathLike, callback: PathWatchCallback): PathWatcher;
}

/** Options of {@link fsModule}. */
export interface FsModuleOptions {
  /**
   * How `open`/`close`/`read`/`write`/`readFile` run. `'auto'`: the backend's completion layer (io_uring on
   * Linux when `kernel.io_uring_disabled` allows it and the kernel has it; IOCP on Windows) when it is available,
   * else the thread pool. `'pool'`: always the pool. `'completion'`: the completion layer or an
   * {@link UnsupportedError} saying why not; `'uring'` is the same (its first name, from when io_uring was the
   * only one). Defaults to `'auto'`.
   */
  readonly io?: 'auto' | 'pool' | 'completion' | 'uring';
  /** The most operations sent to a worker in one task. Defaults to `32`. */
  readonly batchSize?: number;
}

const FLAGS: Readonly<Record<string, number>> = (() => {
  const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_EXCL, O_SYNC } = fsConstants;
  return {
    r: O_RDONLY,
    rs: O_RDONLY | O_SYNC,
    sr: O_RDONLY | O_SYNC,
    'r+': O_RDWR,
    'rs+': O_RDWR | O_SYNC,
    'sr+': O_RDWR | O_SYNC,
    w: O_TRUNC | O_CREAT | O_WRONLY,
    wx: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
    xw: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
    'w+': O_TRUNC | O_CREAT | O_RDWR,
    'wx+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
    'xw+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
    a: O_APPEND | O_CREAT | O_WRONLY,
    ax: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
    xa: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
    as: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
    sa: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
    'a+': O_APPEND | O_CREAT | O_RDWR,
    'ax+': O_APPEND | O_CREAT | O_RDWR | O_EXCL,
    'xa+': O_APPEND | O_CREAT | O_RDWR | O_EXCL,
    'as+': O_APPEND | O_CREAT | O_RDWR | O_SYNC,
    'sa+': O_APPEND | O_CREAT | O_RDWR | O_SYNC,
  };
})();

/** node:fs's open flags as a number, or undefined for what only node:fs should judge (it throws its own error). */
function openFlags(flags: string | number): number | undefined {
  if (typeof flags === 'number') return Number.isInteger(flags) && flags >= 0 ? flags : undefined;
  return FLAGS[flags];
}

interface Pending {
  readonly op: FsOp;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

function toPath(path: unknown, argument = 'path'): string {
  if (typeof path === 'string') {
    if (path.includes('\0')) throw new InvalidArgumentError(argument, 'must not contain a NUL byte');
    return path;
  }
  if (path instanceof URL) return fileURLToPath(path);
  throw new InvalidArgumentError(argument, `must be a string or a file: URL, got ${describeReceived(path)}`);
}

function toPathOrFd(path: unknown): string | number {
  return typeof path === 'number' ? toFd(path) : toPath(path);
}

function toFd(fd: unknown): number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new InvalidArgumentError('fd', `must be a non-negative integer file descriptor, got ${describeReceived(fd)}`);
  }
  return fd;
}

function toInt(value: unknown, argument: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, `must be an integer from ${min} to ${max}, got ${describeReceived(value)}`);
  }
  return value;
}

function toPosition(value: unknown): number | null {
  if (value === null || value === undefined || value === -1) return null;
  return toInt(value, 'position', 0, Number.MAX_SAFE_INTEGER);
}

function toBytes(data: unknown, encoding: Encoding | undefined): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, encoding ?? 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new InvalidArgumentError('data', `must be a string, Buffer or TypedArray, got ${describeReceived(data)}`);
}

function toBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** An fs error rebuilt on the calling thread with node:fs's message, code, errno, syscall, path and dest. */
function reviveFsError(e: FsErrorData): Error {
  if (e.code === 'ERR_FDLOOP_POLLABLE_FD' && e.fileType !== undefined) return new PollableFdError(e.fileType, e.what ?? 'the file');
  const error = new Error(e.message) as NodeJS.ErrnoException & { dest?: string };
  if (e.name !== 'Error') Object.defineProperty(error, 'name', { value: e.name, writable: true, configurable: true, enumerable: false });
  if (e.errno !== undefined) error.errno = e.errno;
  if (e.code !== undefined) error.code = e.code;
  if (e.syscall !== undefined) error.syscall = e.syscall;
  if (e.path !== undefined) error.path = e.path;
  if (e.dest !== undefined) error.dest = e.dest;
  error.stack = `${e.stack ?? `${e.name}: ${e.message}`}`;
  return error;
}

function attempt<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}

function setup(ctx: ModuleContext, options: FsModuleOptions): FsApi {
  const io = options.io ?? 'auto';
  if (io !== 'auto' && io !== 'pool' && io !== 'completion' && io !== 'uring') {
    throw new InvalidArgumentError('io', `must be 'auto', 'pool', 'completion' or 'uring', got ${describeReceived(io)}`);
  }
  let ring: CompletionIo | undefined;
  if (io !== 'pool') {
    const opened = completionProvider(ctx.backend)?.open(ctx.runtime);
    if (opened === undefined || 'unavailable' in opened) {
      const reason = opened?.unavailable ?? 'the backend has no completion I/O layer';
      if (io === 'completion' || io === 'uring') throw new UnsupportedError(ctx.backend.name, 'completion file I/O (io_uring, IOCP)', reason);
      ctx.trace(`completion I/O unavailable (${reason}); using the thread pool`);
    } else {
      const opened_ = opened;
      ring = opened_;
      ctx.onClose(() => opened_.dispose());
      ctx.trace(`using ${opened_.kind} for open/close/read/write/readFile`);
    }
  }
  const batchSize = toInt(options.batchSize ?? 32, 'batchSize', 1, 4096);
  const batchTask: TaskKind<readonly FsOp[], FsResult[]> = ctx.task(tasksUrl(), 'batch');

  let queue: Pending[] = [];
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    const all = queue;
    queue = [];
    for (let i = 0; i < all.length; i += batchSize) {
      const part = all.slice(i, i + batchSize);
      const transfer: ArrayBuffer[] = [];
      ctx.run(batchTask, part.map((p) => p.op), { transfer }).then(
        (results) => {
          for (let j = 0; j < part.length; j++) {
            const r = results[j] as FsResult;
            const p = part[j] as Pending;
            if (r.ok) p.resolve(r.v);
            else p.reject(reviveFsError(r.e));
          }
        },
        (err: unknown) => {
          for (const p of part) p.reject(err);
        },
      );
    }
  };

  /** Queue one operation for the next batch (operations of one tick share messages). */
  const submit = <T>(op: FsOp, signal?: AbortSignal): Promise<T> => {
    if (signal !== undefined) {
      // Cancellable operations travel alone, so aborting one does not cancel its neighbours.
      return ctx.run(batchTask, [op], { signal }).then((results) => {
        const r = results[0] as FsResult;
        if (!r.ok) throw reviveFsError(r.e);
        return r.v as T;
      });
    }
    return new Promise<T>((resolve, reject) => {
      queue.push({ op, resolve: resolve as (v: unknown) => void, reject });
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(flush);
      }
    });
  };

  const writeOptions = (o: Encoding | WriteFileOptions | undefined, flag: string): { encoding: Encoding | undefined; mode: number; flag: string; signal: AbortSignal | undefined } => {
    if (typeof o === 'string') return { encoding: o, mode: 0o666, flag, signal: undefined };
    return { encoding: o?.encoding, mode: o?.mode ?? 0o666, flag: o?.flag ?? flag, signal: o?.signal };
  };

  const api: FsApi = {
    io: ring?.kind ?? 'pool',
    open: (path, flags = 'r', mode = 0o666) =>
      attempt(() => {
        const target = toPath(path);
        const numeric = openFlags(flags);
        if (ring !== undefined && numeric !== undefined) return ring.open(target, numeric, toInt(mode, 'mode', 0, 0o7777));
        return submit<number>({ op: 'open', a: target, b: flags, c: mode });
      }),
    close: (fd) => attempt(() => (ring !== undefined ? ring.close(toFd(fd)) : submit<void>({ op: 'close', a: toFd(fd) }))),
    read: <T extends Uint8Array>(fd: number, buffer: T, offset = 0, length?: number, position: number | null = null) =>
      attempt(async () => {
        if (!ArrayBuffer.isView(buffer)) throw new InvalidArgumentError('buffer', 'must be a Buffer or Uint8Array');
        toInt(offset, 'offset', 0, buffer.byteLength);
        const len = length ?? buffer.byteLength - offset;
        toInt(len, 'length', 0, buffer.byteLength - offset);
        const at = toPosition(position);
        const bytes = ring !== undefined ? await ring.read(toFd(fd), len, at) : await submit<Uint8Array>({ op: 'read', a: toFd(fd), b: len, c: at });
        buffer.set(bytes, offset);
        return { bytesRead: bytes.byteLength, buffer };
      }),
    write: <T extends Uint8Array>(fd: number, buffer: T, offset = 0, length?: number, position: number | null = null) =>
      attempt(async () => {
        if (!ArrayBuffer.isView(buffer)) throw new InvalidArgumentError('buffer', 'must be a Buffer or Uint8Array');
        toInt(offset, 'offset', 0, buffer.byteLength);
        const len = length ?? buffer.byteLength - offset;
        toInt(len, 'length', 0, buffer.byteLength - offset);
        const data = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, len);
        const at = toPosition(position);
        const bytesWritten = ring !== undefined ? await ring.write(toFd(fd), data, at) : await submit<number>({ op: 'write', a: toFd(fd), b: data, c: at });
        return { bytesWritten, buffer };
      }),
    readFile: ((path: PathLike | number, o?: Encoding | ReadFileOptions) =>
      attempt(async () => {
        const opts: ReadFileOptions = typeof o === 'string' ? { encoding: o } : (o ?? {});
        if (opts.encoding != null && !Buffer.isEncoding(opts.encoding)) {
          throw new InvalidArgumentError('encoding', `unknown encoding ${String(opts.encoding)}`);
        }
        const target = toPathOrFd(path);
        const flag = opts.flag ?? 'r';
        const bytes =
          ring !== undefined && typeof target === 'string' && flag === 'r' && opts.signal === undefined
            ? await ring.readFile(target)
            : toBuffer(await submit<Uint8Array>({ op: 'readFile', a: target, b: flag }, opts.signal));
        return opts.encoding == null ? bytes : bytes.toString(opts.encoding);
      })) as FsApi['readFile'],
    writeFile: (path, data, o) =>
      attempt(() => {
        const w = writeOptions(o, 'w');
        return submit<void>({ op: 'writeFile', a: toPathOrFd(path), b: toBytes(data, w.encoding), c: { mode: w.mode, flag: w.flag } }, w.signal);
      }),
    appendFile: (path, data, o) =>
      attempt(() => {
        const w = writeOptions(o, 'a');
        return submit<void>({ op: 'writeFile', a: toPathOrFd(path), b: toBytes(data, w.encoding), c: { mode: w.mode, flag: w.flag } }, w.signal);
      }),
    stat: (path) => attempt(() => submit<Record<string, unknown>>({ op: 'stat', a: toPath(path) }).then((s) => new FileStats(s))),
    lstat: (path) => attempt(() => submit<Record<string, unknown>>({ op: 'lstat', a: toPath(path) }).then((s) => new FileStats(s))),
    fstat: (fd) => attempt(() => submit<Record<string, unknown>>({ op: 'fstat', a: toFd(fd) }).then((s) => new FileStats(s))),
    readdir: ((path: PathLike, o?: { withFileTypes?: boolean }) =>
      attempt(async () => {
        const dir = toPath(path);
        if (o?.withFileTypes !== true) return submit<string[]>({ op: 'readdir', a: dir, b: false });
        const entries = await submit<[string, number][]>({ op: 'readdir', a: dir, b: true });
        return entries.map(([name, kind]) => new DirEntry(name, dir, kind));
      })) as FsApi['readdir'],
    mkdir: (path, o) =>
      attempt(() => submit<string | undefined>({ op: 'mkdir', a: toPath(path), b: { recursive: o?.recursive ?? false, mode: o?.mode ?? 0o777 } })),
    rm: (path, o) => attempt(() => submit<void>({ op: 'rm', a: toPath(path), b: { recursive: o?.recursive ?? false, force: o?.force ?? false } })),
    unlink: (path) => attempt(() => submit<void>({ op: 'unlink', a: toPath(path) })),
    rmdir: (path) => attempt(() => submit<void>({ op: 'rmdir', a: toPath(path) })),
    rename: (oldPath, newPath) => attempt(() => submit<void>({ op: 'rename', a: toPath(oldPath, 'oldPath'), b: toPath(newPath, 'newPath') })),
    copyFile: (src, dest, mode = 0) => attempt(() => submit<void>({ op: 'copyFile', a: toPath(src, 'src'), b: toPath(dest, 'dest'), c: toInt(mode, 'mode', 0, 7) })),
    truncate: (path, length = 0) => attempt(() => submit<void>({ op: 'truncate', a: toPath(path), b: toInt(length, 'length', 0, Number.MAX_SAFE_INTEGER) })),
    ftruncate: (fd, length = 0) => attempt(() => submit<void>({ op: 'ftruncate', a: toFd(fd), b: toInt(length, 'length', 0, Number.MAX_SAFE_INTEGER) })),
    fsync: (fd) => attempt(() => submit<void>({ op: 'fsync', a: toFd(fd) })),
    fdatasync: (fd) => attempt(() => submit<void>({ op: 'fdatasync', a: toFd(fd) })),
    createReadStream: (path, o = {}) => readStream(api, toPath(path), o),
    createWriteStream: (path, o = {}) => writeStream(api, toPath(path), o),
    chunks: (path, o = {}) => chunkIterator(api, toPath(path), o),
    watch: (path: PathLike, o?: PathWatchOptions | PathWatchCallback, cb?: PathWatchCallback): PathWatcher => {
      ctx.requireCapability('pathWatch');
      const options = typeof o === 'function' ? {} : (o ?? {});
      const callback = typeof o === 'function' ? o : cb;
      const target = toPath(path);
      return callback === undefined ? ctx.runtime.watchPath(target, options) : ctx.runtime.watchPath(target, options, callback);
    },
  };
  return api;
}

interface Range {
  readonly start: number;
  readonly end: number;
  readonly chunk: number;
}

function rangeOf(o: ReadStreamOptions): Range {
  const start = o.start === undefined ? 0 : toInt(o.start, 'start', 0, Number.MAX_SAFE_INTEGER);
  const end = o.end === undefined ? Infinity : toInt(o.end, 'end', 0, Number.MAX_SAFE_INTEGER);
  if (end < start) throw new InvalidArgumentError('end', `must be >= start (${start}), got ${end}`);
  const chunk = o.highWaterMark === undefined ? 65536 : toInt(o.highWaterMark, 'highWaterMark', 1, 2 ** 30);
  return { start, end, chunk };
}

function readStream(fs: FsApi, path: string, o: ReadStreamOptions): Readable {
  const { start, end, chunk } = rangeOf(o);
  let fd = -1;
  let position = start;
  return new Readable({
    highWaterMark: chunk,
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
    construct(callback) {
      fs.open(path, 'r').then(
        (opened) => {
          fd = opened;
          callback();
        },
        (err: Error) => callback(err),
      );
    },
    read() {
      const want = Math.min(chunk, end - position + 1);
      if (want <= 0) {
        this.push(null);
        return;
      }
      fs.read(fd, Buffer.allocUnsafe(want), 0, want, position).then(
        ({ bytesRead, buffer }) => {
          position += bytesRead;
          this.push(bytesRead === 0 ? null : buffer.subarray(0, bytesRead));
        },
        (err: Error) => this.destroy(err),
      );
    },
    destroy(err, callback) {
      if (fd < 0) {
        callback(err);
        return;
      }
      const closing = fd;
      fd = -1;
      fs.close(closing).then(
        () => callback(err),
        (closeErr: Error) => callback(err ?? closeErr),
      );
    },
  });
}

function writeStream(fs: FsApi, path: string, o: WriteStreamOptions): Writable {
  let fd = -1;
  return new Writable({
    highWaterMark: o.highWaterMark === undefined ? 65536 : toInt(o.highWaterMark, 'highWaterMark', 1, 2 ** 30),
    construct(callback) {
      fs.open(path, o.flags ?? 'w', o.mode ?? 0o666).then(
        (opened) => {
          fd = opened;
          callback();
        },
        (err: Error) => callback(err),
      );
    },
    write(chunk: Buffer, _encoding, callback) {
      const writeAll = async (): Promise<void> => {
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await fs.write(fd, chunk, off, chunk.length - off, null);
          off += bytesWritten;
        }
      };
      writeAll().then(() => callback(), (err: Error) => callback(err));
    },
    final(callback) {
      const done = o.flush === true ? fs.fsync(fd) : Promise.resolve();
      done.then(() => callback(), (err: Error) => callback(err));
    },
    destroy(err, callback) {
      if (fd < 0) {
        callback(err);
        return;
      }
      const closing = fd;
      fd = -1;
      fs.close(closing).then(
        () => callback(err),
        (closeErr: Error) => callback(err ?? closeErr),
      );
    },
  });
}

function chunkIterator(fs: FsApi, path: string, o: ReadStreamOptions): AsyncIterableIterator<Buffer> {
  const { start, end, chunk } = rangeOf(o);
  let fd: Promise<number> | undefined;
  let position = start;
  let done = false;
  let ahead: Promise<Buffer> | undefined;
  const readNext = async (): Promise<Buffer> => {
    o.signal?.throwIfAborted();
    fd ??= fs.open(path, 'r');
    const want = Math.min(chunk, end - position + 1);
    if (want <= 0) return Buffer.alloc(0);
    const at = position;
    position += want;
    const { bytesRead, buffer } = await fs.read(await fd, Buffer.allocUnsafe(want), 0, want, at);
    return buffer.subarray(0, bytesRead);
  };
  const finish = async (): Promise<void> => {
    if (done) return;
    done = true;
    const opened = fd;
    fd = undefined;
    await ahead?.catch(() => undefined);
    if (opened !== undefined) await fs.close(await opened).catch(() => undefined);
  };
  const iterator: AsyncIterableIterator<Buffer> = {
    async next() {
      if (done) return { value: undefined, done: true };
      let buf: Buffer;
      try {
        buf = await (ahead ?? readNext());
        ahead = undefined;
      } catch (err) {
        ahead = undefined;
        await finish();
        throw err;
      }
      if (buf.length === 0) {
        await finish();
        return { value: undefined, done: true };
      }
      // Read ahead one chunk while the consumer works on this one.
      if (buf.length === chunk) {
        ahead = readNext();
        ahead.catch(() => undefined);
      }
      return { value: buf, done: false };
    },
    async return() {
      await finish();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * The file-system module. Attach it with `rt.use(fsModule())`.
 *
 * @example
 * ```ts
 * const fs = rt.use(fsModule({ io: 'pool' }));
 * const names = await fs.readdir('.');
 * ```
 */
export function fsModule(options: FsModuleOptions = {}): FdloopModule<FsApi> {
  return defineModule('fs', (ctx) => setup(ctx, options));
}
