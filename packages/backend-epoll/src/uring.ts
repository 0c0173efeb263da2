/**
 * io_uring completion I/O for fdloop's runtime: the optional completion layer of the contract
 * ({@link CompletionProvider}), used by `@fdloop/mod-fs` when available.
 *
 * One ring per runtime. Operations of one tick are submitted together (one `io_uring_enter`); completions signal
 * an eventfd that the runtime watches like any descriptor, and one `reap()` per wake-up collects them, advancing
 * multi-step operations (readFile: statx, openat, read until done, close) inside native code. Built on raw system
 * calls (no liburing). Unavailable when `kernel.io_uring_disabled` forbids it or the kernel lacks io_uring:
 * {@link uringProvider}'s `open()` then says why, and mod-fs uses the thread pool.
 *
 * @module
 */

import { readFileSync } from 'node:fs';
import {
  CancelledError,
  Interest,
  PollableFdError,
  READFILE_ERROR_NAMES_PATH,
  nodeFsError,
  type CompletionIo,
  type CompletionProvider,
  type CompletionUnavailable,
  type Runtime,
  type Watcher,
} from '@fdloop/core';
import { loadNative } from './native.js';

/** One finished operation as the addon reports it: `[id, result, failedSyscall, pollableType, bytes?]`. */
type NativeCompletion = [number, number, number, number, Buffer?];

interface NativeRing {
  error(): number;
  eventFd(): number;
  capacity(): number;
  inFlight(): number;
  readFile(id: number, path: string): void;
  open(id: number, path: string, flags: number, mode: number): void;
  read(id: number, fd: number, length: number, position: number): void;
  write(id: number, fd: number, data: Uint8Array, position: number): void;
  closeFd(id: number, fd: number): void;
  submit(): number;
  reap(): NativeCompletion[];
  destroy(): void;
}

type NativeRingConstructor = new (entries: number) => NativeRing;

const SYSCALLS = ['', 'open', 'read', 'write', 'close'] as const;
const POLLABLE = ['', 'fifo', 'socket', 'character device'] as const;


/**
 * Whether the kernel allows io_uring for this process, from `/proc/sys/kernel/io_uring_disabled`
 * (0: everyone, 1: members of `kernel.io_uring_group` only, 2: nobody). `undefined` when the file does not exist
 * (older kernels: allowed unless the kernel lacks io_uring altogether).
 */
export function ioUringDisabled(): number | undefined {
  try {
    const value = Number.parseInt(readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim(), 10);
    return Number.isNaN(value) ? undefined : value;
  } catch {
    return undefined;
  }
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly path: string | undefined;
  readonly kind: 'readFile' | 'open' | 'read' | 'write' | 'close';
  readonly fd: number | undefined;
}

class UringIo implements CompletionIo {
  readonly kind = 'io_uring';
  private readonly ring: NativeRing;
  private readonly watcher: Watcher;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private scheduled = false;
  private disposed = false;

  constructor(rt: Runtime, ring: NativeRing) {
    this.ring = ring;
    this.watcher = rt.watch(ring.eventFd(), Interest.READABLE, () => this.reap());
    // The watcher keeps the runtime (and Node) alive only while operations are in flight.
    this.watcher.unref();
  }

  readFile(path: string): Promise<Buffer> {
    return this.start<Buffer>('readFile', path, undefined, (id) => this.ring.readFile(id, path));
  }

  open(path: string, flags: number, mode: number): Promise<number> {
    return this.start<number>('open', path, undefined, (id) => this.ring.open(id, path, flags, mode));
  }

  read(fd: number, length: number, position: number | null): Promise<Buffer> {
    return this.start<Buffer>('read', undefined, fd, (id) => this.ring.read(id, fd, length, position ?? -1));
  }

  write(fd: number, data: Uint8Array, position: number | null): Promise<number> {
    return this.start<number>('write', undefined, fd, (id) => this.ring.write(id, fd, data, position ?? -1));
  }

  close(fd: number): Promise<void> {
    return this.start<void>('close', undefined, fd, (id) => this.ring.closeFd(id, fd));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.watcher.close();
    // Cancels what the kernel holds and waits until it lets go of every buffer.
    this.ring.destroy();
    const cancelled = new CancelledError('the io_uring ring was closed before the operation finished');
    for (const p of this.pending.values()) p.reject(cancelled);
    this.pending.clear();
  }

  private start<T>(kind: Pending['kind'], path: string | undefined, fd: number | undefined, queue: (id: number) => void): Promise<T> {
    if (this.disposed) return Promise.reject(new CancelledError('the io_uring ring is closed'));
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      queue(id);
      if (this.pending.size === 0) this.watcher.ref();
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, path, kind, fd });
      if (!this.scheduled) {
        this.scheduled = true;
        // Everything queued in this tick goes to the kernel in one io_uring_enter.
        queueMicrotask(() => this.submit());
      }
    });
  }

  private submit(): void {
    this.scheduled = false;
    if (this.disposed) return;
    const rc = this.ring.submit();
    if (rc < 0) this.failAll(nodeFsError(rc, 'io_uring_enter', undefined));
  }

  private reap(): void {
    if (this.disposed) return;
    for (const [id, result, failed, pollable, bytes] of this.ring.reap()) {
      if (id === -1) {
        this.failAll(nodeFsError(result, 'io_uring_enter', undefined));
        continue;
      }
      const p = this.pending.get(id);
      if (p === undefined) continue;
      this.pending.delete(id);
      if (pollable !== 0) {
        p.reject(new PollableFdError(POLLABLE[pollable] ?? 'pollable file', p.path !== undefined ? `'${p.path}'` : `fd ${String(p.fd)}`));
      } else if (result < 0) {
        const syscall = SYSCALLS[failed] ?? p.kind;
        // node:fs names the path for open; for the read of a readFile only from Node 26 on (20-24 leave it out).
        const named = syscall === 'open' || (p.kind === 'readFile' && READFILE_ERROR_NAMES_PATH);
        p.reject(nodeFsError(result, syscall, named ? p.path : undefined));
      } else if (p.kind === 'readFile' || p.kind === 'read') {
        p.resolve(bytes ?? Buffer.alloc(0));
      } else if (p.kind === 'close') {
        p.resolve(undefined);
      } else {
        p.resolve(result);
      }
    }
    if (this.pending.size === 0 && !this.disposed) this.watcher.unref();
  }

  private failAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    this.watcher.unref();
  }
}

/**
 * The io_uring completion layer of the epoll backend (`epoll().completion`). `open(rt)` creates a ring for that
 * runtime, or returns `{ unavailable }` saying why it cannot (`kernel.io_uring_disabled`, `EPERM`, `ENOSYS`, an
 * addon built without io_uring).
 *
 * @example
 * ```ts
 * const io = uringProvider.open(rt);
 * if (!('unavailable' in io)) console.log((await io.readFile('/etc/hostname')).toString());
 * ```
 */
export const uringProvider: CompletionProvider = Object.freeze({
  open(rt: Runtime): CompletionIo | CompletionUnavailable {
    const disabled = ioUringDisabled();
    if (disabled === 2) return { unavailable: 'kernel.io_uring_disabled is 2 (io_uring is disabled for all processes)' };
    const Ring = (loadNative() as unknown as { uring?: { Ring: NativeRingConstructor } }).uring?.Ring;
    if (Ring === undefined) return { unavailable: 'the native addon was built without io_uring support' };
    const ring = new Ring(256);
    const error = ring.error();
    if (error < 0) {
      const reason = nodeFsError(error, 'io_uring_setup', undefined).message;
      return { unavailable: disabled === 1 ? `${reason} (kernel.io_uring_disabled is 1: only kernel.io_uring_group may use it)` : reason };
    }
    return new UringIo(rt, ring);
  },
});
