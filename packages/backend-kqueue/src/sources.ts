/**
 * Event sources on kqueue: kernel timers (`EVFILT_TIMER`), signals (`EVFILT_SIGNAL`), notifiers (`EVFILT_USER`),
 * path watches (`EVFILT_VNODE`, one descriptor per watched file or directory) and process exits
 * (`EVFILT_PROC`/`NOTE_EXIT`).
 * The native poller accumulates what each source's kevents carry and reports the source's token; the handles
 * here turn the accumulated values into the contract's records.
 *
 * @module
 */

import { fstatSync, lstatSync, readdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import {
  InvalidArgumentError,
  describeReceived,
  UnsupportedError,
  errnoError,
  type NotifierRecord,
  type NotifierRemote,
  type NotifierSourceHandle,
  type NotifierSourceSpec,
  type PathAddOptions,
  type PathRecord,
  type PathWatchSourceHandle,
  type ProcessExitRecord,
  type ProcessExitSourceHandle,
  type ProcessExitSourceSpec,
  type SignalRecord,
  type SignalSourceHandle,
  type SignalSourceSpec,
  type SourceHandles,
  type SourceKind,
  type SourceSpecs,
  type TimerArming,
  type TimerRecord,
  type TimerSourceHandle,
  type TimerSourceSpec,
} from '@fdloop/core';
import type { NativeBinding, NativeKqueuePoller } from './native.js';

const ENOENT = -osConstants.errno.ENOENT;
const ESRCH = -osConstants.errno.ESRCH;

/** What a source handle needs from its poller. */
export interface SourceContext {
  readonly binding: NativeBinding;
  readonly native: NativeKqueuePoller;
  /** A fresh ident for `EVFILT_TIMER` / `EVFILT_USER` knotes of this poller (from 1). */
  nextIdent(): number;
}

function check(rc: number, syscall: string, detail?: { path?: string }): void {
  if (rc < 0) throw errnoError(rc, syscall, detail);
}

/** The largest number of records one {@link NotifierSourceHandle.read} returns in semaphore mode. */
const SEMAPHORE_BATCH = 1024;

/** Base of the handles: pause/resume/read bookkeeping of one knote. */
abstract class KnoteHandle {
  protected readonly out = new Float64Array(3);
  protected closed = false;
  protected paused = false;
  constructor(
    protected readonly ctx: SourceContext,
    protected readonly filter: number,
    protected readonly ident: number,
    protected readonly token: number,
  ) {}

  /** `[kevents, data, fflags]` accumulated since the last call, or undefined if nothing. */
  protected take(): [number, number, number] | undefined {
    if (this.closed) return undefined;
    const rc = this.ctx.native.srcRead(this.filter, this.ident, this.out);
    if (rc < 0 || this.out[0] === 0) return undefined;
    return [this.out[0] as number, this.out[1] as number, this.out[2] as number];
  }

  pause(): void {
    if (this.closed || this.paused) return;
    this.paused = true;
    this.setPaused(true);
  }

  resume(): void {
    if (this.closed || !this.paused) return;
    this.paused = false;
    this.setPaused(false);
  }

  protected setPaused(paused: boolean): void {
    const rc = this.ctx.native.srcPause(this.filter, this.ident, paused);
    // ENOENT: not added yet (a timer never armed); the flag is applied when it is.
    if (rc < 0 && rc !== ENOENT) throw errnoError(rc, 'kevent');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Ignored on purpose: the knote may be gone already (a fired one-shot timer, an exited process), and close()
    // releases it either way.
    this.ctx.native.srcDel(this.filter, this.ident);
  }
}

function monotonicNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** `EVFILT_TIMER` in microseconds (`NOTE_USECONDS`). */
class KqueueTimer extends KnoteHandle implements TimerSourceHandle {
  #armed = false;
  readonly #clock: TimerSourceSpec['clock'];

  constructor(ctx: SourceContext, spec: TimerSourceSpec, token: number) {
    if (spec.clock === 'boottime') {
      throw new UnsupportedError('kqueue', "timer clock 'boottime'", 'kqueue timers follow the monotonic clock');
    }
    super(ctx, ctx.binding.constants.EVFILT_TIMER, ctx.nextIdent(), token);
    this.#clock = spec.clock;
  }

  arm(arming: TimerArming): void {
    if (this.closed) return;
    const { EV_ONESHOT, NOTE_USECONDS } = this.ctx.binding.constants;
    // kqueue timers are relative: an absolute time becomes a delay now (so a later change of the wall clock does
    // not move a 'realtime' timer; see the README).
    const now = this.#clock === 'realtime' ? Date.now() : monotonicNow();
    const delayMs = arming.absolute ? arming.value - now : arming.value;
    const first = Math.max(1, Math.round(delayMs * 1000));
    const period = arming.interval > 0 ? Math.max(1, Math.round(arming.interval * 1000)) : 0;
    // A knote keeps the EV_ONESHOT it was created with, so a re-arm deletes and adds.
    this.ctx.native.srcDel(this.filter, this.ident);
    let rc: number;
    if (period === 0) rc = this.ctx.native.srcAdd(this.filter, this.ident, EV_ONESHOT, NOTE_USECONDS, first, this.token);
    else if (period === first) rc = this.ctx.native.srcAdd(this.filter, this.ident, 0, NOTE_USECONDS, period, this.token);
    else rc = this.ctx.native.srcAdd(this.filter, this.ident, EV_ONESHOT, NOTE_USECONDS, first, this.token, period);
    check(rc, 'kevent');
    this.#armed = true;
    if (this.paused) this.setPaused(true);
  }

  disarm(): void {
    if (this.closed || !this.#armed) return;
    this.#armed = false;
    this.ctx.native.srcDel(this.filter, this.ident);
  }

  read(): TimerRecord[] {
    const taken = this.take();
    if (taken === undefined || taken[1] <= 0) return [];
    return [{ expirations: taken[1] }];
  }
}

/** `EVFILT_USER` with the count in a shared 64-bit counter, so that any thread can add to it. */
class KqueueNotifier extends KnoteHandle implements NotifierSourceHandle {
  readonly remote: NotifierRemote;
  readonly #counter: BigInt64Array;
  readonly #semaphore: boolean;
  readonly #kq: number;

  constructor(ctx: SourceContext, spec: NotifierSourceSpec, token: number) {
    super(ctx, ctx.binding.constants.EVFILT_USER, ctx.nextIdent(), token);
    this.#semaphore = spec.semaphore;
    const shared = new SharedArrayBuffer(8);
    this.#counter = new BigInt64Array(shared);
    this.#kq = ctx.native.kernelFd();
    check(ctx.native.srcAdd(this.filter, this.ident, ctx.binding.constants.EV_CLEAR, 0, 0, token), 'kevent');
    this.remote = Object.freeze({ backend: 'kqueue', kq: this.#kq, ident: this.ident, counter: shared });
  }

  notify(count: number): void {
    if (this.closed) throw errnoError(-osConstants.errno.EBADF, 'kevent', { message: 'the notifier is closed' });
    triggerRemote(this.ctx.binding, this.remote, count);
  }

  read(): NotifierRecord[] {
    if (this.closed) return [];
    this.take();
    if (!this.#semaphore) {
      const total = Atomics.exchange(this.#counter, 0, 0n);
      return total > 0n ? [{ count: Number(total) }] : [];
    }
    // Semaphore mode: one record per notification, at most SEMAPHORE_BATCH per read; the rest is reported again.
    let taken = 0n;
    for (;;) {
      const current = Atomics.load(this.#counter, 0);
      if (current <= 0n) break;
      taken = current < BigInt(SEMAPHORE_BATCH) ? current : BigInt(SEMAPHORE_BATCH);
      if (Atomics.compareExchange(this.#counter, 0, current, current - taken) === current) break;
      taken = 0n;
    }
    if (Atomics.load(this.#counter, 0) > 0n) check(this.ctx.binding.userTrigger(this.#kq, this.ident), 'kevent');
    return Array.from({ length: Number(taken) }, () => ({ count: 1 }));
  }

  override resume(): void {
    super.resume();
    if (!this.closed && Atomics.load(this.#counter, 0) > 0n) check(this.ctx.binding.userTrigger(this.#kq, this.ident), 'kevent');
  }
}

/** Adds `count` to a notifier's counter and triggers its knote; see {@link KqueueNotifier}. */
export function triggerRemote(binding: NativeBinding, remote: NotifierRemote, count: number): void {
  const { kq, ident, counter } = remote as { kq?: unknown; ident?: unknown; counter?: unknown };
  if (typeof kq !== 'number' || typeof ident !== 'number' || !(counter instanceof SharedArrayBuffer) || counter.byteLength !== 8) {
    throw new InvalidArgumentError('remote', 'is not the remote of a kqueue notifier');
  }
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
    throw new InvalidArgumentError('count', `must be a positive safe integer, got ${describeReceived(count)}`);
  }
  Atomics.add(new BigInt64Array(counter), 0, BigInt(count));
  check(binding.userTrigger(kq, ident), 'kevent');
}

/**
 * `EVFILT_SIGNAL` (`EV_CLEAR`; `data` counts deliveries). While subscribed, the signal is ignored process-wide (see
 * native/kqueue/signal_disposition.h), so only the runtime sees it, as with the epoll backend.
 */
class KqueueSignal extends KnoteHandle implements SignalSourceHandle {
  constructor(ctx: SourceContext, spec: SignalSourceSpec, token: number) {
    super(ctx, ctx.binding.constants.EVFILT_SIGNAL, spec.signo, token);
    const rc = ctx.native.srcAdd(this.filter, this.ident, ctx.binding.constants.EV_CLEAR, 0, 0, token);
    if (rc < 0) {
      throw errnoError(rc, 'kevent', rc === -osConstants.errno.EEXIST ? { message: `this runtime already receives signal ${spec.signo}` } : undefined);
    }
  }

  read(): SignalRecord[] {
    const taken = this.take();
    if (taken === undefined || taken[1] <= 0) return [];
    // kqueue counts deliveries but tells nothing about the sender: one record standing for all of them.
    return [{ signo: this.ident, count: taken[1] }];
  }
}

/**
 * `EVFILT_PROC` with `NOTE_EXIT` (and, on macOS, `NOTE_EXITSTATUS` where the kernel allows it: for our children).
 * The native harvest works out the status; see `srcRead` in native.ts for its encoding.
 */
class KqueueProcessExit extends KnoteHandle implements ProcessExitSourceHandle {
  #done = false;

  constructor(ctx: SourceContext, spec: ProcessExitSourceSpec, token: number) {
    super(ctx, ctx.binding.constants.EVFILT_PROC, spec.pid, token);
    const { NOTE_EXIT, NOTE_EXITSTATUS } = ctx.binding.constants;
    let rc: number | undefined;
    // `>>> 0`: NOTE_EXIT is bit 31, and `|` would make the flags a negative int32.
    if (NOTE_EXITSTATUS !== undefined) rc = ctx.native.srcAdd(this.filter, this.ident, 0, (NOTE_EXIT | NOTE_EXITSTATUS) >>> 0, 0, token);
    // Without NOTE_EXITSTATUS: not macOS, or refused for a process that is not our child.
    if (rc === undefined || (rc < 0 && rc !== ESRCH)) rc = ctx.native.srcAdd(this.filter, this.ident, 0, NOTE_EXIT, 0, token);
    if (rc < 0) throw errnoError(rc, 'kevent', rc === ESRCH ? { message: `no process ${spec.pid}` } : undefined);
  }

  read(): ProcessExitRecord[] {
    if (this.#done) return [];
    const taken = this.take();
    if (taken === undefined) return [];
    this.#done = true;
    const exit = taken[1];
    const killed = exit >= 256;
    return [
      {
        pid: this.ident,
        code: exit >= 0 && !killed ? exit : null,
        signo: killed ? exit % 256 : null,
        coreDumped: exit >= 768,
      },
    ];
  }
}

/** An entry of a watched directory: whether it is a directory, and its inode (to recognise it after a rename). */
interface Entry {
  readonly isDirectory: boolean;
  readonly ino: bigint | undefined;
}

interface VnodeWatch {
  /** The id records carry: the root watch's descriptor (for an entry of a watched directory, its directory's). */
  readonly id: number;
  path: string;
  readonly isDirectory: boolean;
  /** For an entry file of a watched directory: its name there. */
  name?: string;
  /** For a directory: its entries, to tell what a NOTE_WRITE changed. */
  entries?: Map<string, Entry>;
  /** For a directory: the descriptors watching its entry files, by name. */
  readonly children?: Map<string, number>;
}

/** One entry that appeared in or disappeared from a directory listing during a read. */
interface Change {
  readonly dir: VnodeWatch;
  readonly name: string;
  readonly entry: Entry;
}

function inode(path: string): bigint | undefined {
  return lstatSync(path, { bigint: true, throwIfNoEntry: false })?.ino;
}

/**
 * A path-watch set. kqueue watches open descriptors, not paths, and reports *that* a directory changed, not which
 * entry: each watched directory keeps a listing that a `NOTE_WRITE` is compared with, and each regular file in a
 * watched directory gets its own descriptor so that its modifications can be reported by name. The cost is one
 * descriptor per watched file and directory (see the README).
 */
class KqueuePathWatch implements PathWatchSourceHandle {
  readonly nativeRecursive = false;
  readonly #ctx: SourceContext;
  readonly #token: number;
  readonly #watches = new Map<number, VnodeWatch>();
  readonly #out = new Float64Array(3);
  #closed = false;
  #paused = false;
  #cookie = 0;

  constructor(ctx: SourceContext, token: number) {
    this.#ctx = ctx;
    this.#token = token;
  }

  get #notes(): number {
    const c = this.#ctx.binding.constants;
    return c.NOTE_DELETE | c.NOTE_WRITE | c.NOTE_EXTEND | c.NOTE_ATTRIB | c.NOTE_LINK | c.NOTE_RENAME | c.NOTE_REVOKE;
  }

  /** Opens `path` and adds its knote; returns the descriptor. */
  #open(path: string, followSymlinks: boolean, make: (fd: number, isDirectory: boolean) => VnodeWatch): number {
    const fd = this.#ctx.native.vnodeOpen(path, followSymlinks);
    check(fd, 'open', { path });
    try {
      const watch = make(fd, fstatSync(fd).isDirectory());
      const { EVFILT_VNODE, EV_CLEAR } = this.#ctx.binding.constants;
      check(this.#ctx.native.srcAdd(EVFILT_VNODE, fd, EV_CLEAR, this.#notes, 0, this.#token), 'kevent', { path });
      if (this.#paused) this.#ctx.native.srcPause(EVFILT_VNODE, fd, true);
      this.#watches.set(fd, watch);
      return fd;
    } catch (error) {
      this.#ctx.native.srcDel(this.#ctx.binding.constants.EVFILT_VNODE, fd); // closes fd
      throw error;
    }
  }

  add(path: string, options: PathAddOptions): number {
    if (this.#closed) throw errnoError(-osConstants.errno.EBADF, 'open', { path, message: 'the path watch is closed' });
    const rootFd = this.#open(path, options.followSymlinks, (fd, isDirectory) =>
      isDirectory ? { id: fd, path, isDirectory, entries: new Map(), children: new Map() } : { id: fd, path, isDirectory },
    );
    const root = this.#watches.get(rootFd) as VnodeWatch;
    if (root.isDirectory) {
      try {
        for (const entry of readdirSync(path, { withFileTypes: true })) {
          this.#addEntry(root, entry.name, { isDirectory: entry.isDirectory(), ino: inode(join(path, entry.name)) });
        }
      } catch (error) {
        this.remove(rootFd);
        throw error;
      }
    }
    return rootFd;
  }

  /** Records an entry of a watched directory, and watches it if it is a regular file. */
  #addEntry(dir: VnodeWatch, name: string, entry: Entry): void {
    dir.entries?.set(name, entry);
    if (entry.isDirectory) return;
    try {
      const path = join(dir.path, name);
      dir.children?.set(name, this.#open(path, false, (_fd, childIsDir) => ({ id: dir.id, path, isDirectory: childIsDir, name })));
    } catch {
      // Gone again, a symbolic link (not followed), or not openable: the directory's own events still report it.
    }
  }

  #removeEntry(dir: VnodeWatch, name: string): void {
    dir.entries?.delete(name);
    const fd = dir.children?.get(name);
    if (fd === undefined) return;
    dir.children?.delete(name);
    this.#release(fd);
  }

  #release(fd: number): void {
    const watch = this.#watches.get(fd);
    if (watch === undefined) return;
    this.#watches.delete(fd);
    // Ignored on purpose: the knote may be gone with its file; the descriptor is closed either way.
    this.#ctx.native.srcDel(this.#ctx.binding.constants.EVFILT_VNODE, fd);
  }

  remove(watch: number): void {
    const root = this.#watches.get(watch);
    if (root === undefined || root.name !== undefined) return;
    for (const fd of root.children?.values() ?? []) this.#release(fd);
    this.#release(watch);
  }

  read(): PathRecord[] {
    if (this.#closed) return [];
    const c = this.#ctx.binding.constants;
    const records: PathRecord[] = [];
    const gone: number[] = [];
    const removed: Change[] = [];
    const added: Change[] = [];
    const late: PathRecord[] = [];
    for (const [fd, watch] of [...this.#watches]) {
      if (this.#ctx.native.srcRead(c.EVFILT_VNODE, fd, this.#out) < 0 || this.#out[0] === 0) continue;
      const notes = this.#out[2] as number;
      const record = (kind: PathRecord['kind'], into = records): void => {
        const { id, name, isDirectory } = watch;
        into.push(name === undefined ? { kind, watch: id, cookie: 0, isDirectory } : { kind, watch: id, name, cookie: 0, isDirectory });
      };
      if (watch.name !== undefined) {
        // An entry file of a watched directory: its changes by name. Its deletion and renames are reported by the
        // directory's listing.
        if (notes & (c.NOTE_WRITE | c.NOTE_EXTEND)) record('modify');
        if (notes & c.NOTE_ATTRIB) record('attrib');
        continue;
      }
      if (watch.isDirectory && notes & c.NOTE_WRITE) this.#diff(watch, removed, added);
      if (!watch.isDirectory && notes & (c.NOTE_WRITE | c.NOTE_EXTEND)) record('modify');
      if (notes & c.NOTE_ATTRIB || (!watch.isDirectory && notes & c.NOTE_LINK)) record('attrib');
      // Events on the watched path itself come after what happened to its entries.
      if (notes & c.NOTE_RENAME) record('moveSelf', late);
      if (notes & (c.NOTE_DELETE | c.NOTE_REVOKE)) {
        record(notes & c.NOTE_DELETE ? 'deleteSelf' : 'unmount', late);
        record('ignored', late);
        gone.push(fd);
      }
    }
    this.#changes(removed, added, records);
    for (const fd of gone) this.remove(fd);
    return records.concat(late);
  }

  /** Compares a directory's listing with the last one, collecting what disappeared and what appeared. */
  #diff(dir: VnodeWatch, removed: Change[], added: Change[]): void {
    let names: string[];
    try {
      names = readdirSync(dir.path);
    } catch {
      return; // the directory itself is going; its NOTE_DELETE follows
    }
    const before = dir.entries ?? new Map<string, Entry>();
    const now = new Set(names);
    for (const [name, entry] of before) {
      if (!now.has(name)) removed.push({ dir, name, entry });
    }
    for (const name of names) {
      const old = before.get(name);
      const path = join(dir.path, name);
      const stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
      if (stats === undefined) continue; // gone again; if it was known, the next listing reports it
      const entry = { isDirectory: stats.isDirectory(), ino: stats.ino };
      if (old !== undefined && old.ino === entry.ino && old.isDirectory === entry.isDirectory) continue;
      // A name whose file was replaced (rename over it, delete and create) is a delete and a create.
      if (old !== undefined) removed.push({ dir, name, entry: old });
      added.push({ dir, name, entry });
    }
  }

  /**
   * Turns listing changes into records. kqueue names no entries and has no move cookies, so an entry that
   * disappeared from one watched directory and appeared in one (the same or another) with the same inode during
   * one read is a move: a `movedFrom`/`movedTo` pair with a cookie of our own, which the runtime joins into a
   * `rename`. Everything else is `delete` / `create`.
   */
  #changes(removed: Change[], added: Change[], records: PathRecord[]): void {
    const byInode = new Map<bigint, Change>();
    for (const r of removed) if (r.entry.ino !== undefined) byInode.set(r.entry.ino, r);
    const moved = new Set<Change>();
    for (const a of added) {
      const from = a.entry.ino === undefined ? undefined : byInode.get(a.entry.ino);
      if (from === undefined || moved.has(from)) continue;
      moved.add(from);
      moved.add(a);
      const cookie = ++this.#cookie;
      const isDirectory = a.entry.isDirectory;
      records.push({ kind: 'movedFrom', watch: from.dir.id, name: from.name, cookie, isDirectory });
      records.push({ kind: 'movedTo', watch: a.dir.id, name: a.name, cookie, isDirectory });
      this.#moveEntry(from, a);
    }
    for (const r of removed) {
      if (moved.has(r)) continue;
      records.push({ kind: 'delete', watch: r.dir.id, name: r.name, cookie: 0, isDirectory: r.entry.isDirectory });
      this.#removeEntry(r.dir, r.name);
    }
    for (const a of added) {
      if (moved.has(a)) continue;
      records.push({ kind: 'create', watch: a.dir.id, name: a.name, cookie: 0, isDirectory: a.entry.isDirectory });
      this.#addEntry(a.dir, a.name, a.entry);
    }
  }

  /** A moved entry keeps its descriptor (it still refers to the same file): only its name and directory change. */
  #moveEntry(from: Change, to: Change): void {
    from.dir.entries?.delete(from.name);
    to.dir.entries?.set(to.name, to.entry);
    const fd = from.dir.children?.get(from.name);
    if (fd === undefined) {
      if (!to.entry.isDirectory) this.#addEntry(to.dir, to.name, to.entry);
      return;
    }
    from.dir.children?.delete(from.name);
    const watch = this.#watches.get(fd);
    if (watch !== undefined && to.dir.children !== undefined && watch.id === to.dir.id) {
      watch.name = to.name;
      watch.path = join(to.dir.path, to.name);
      to.dir.children.set(to.name, fd);
    } else {
      // Moved into another watched directory: its records carry that directory's id, so watch it afresh there.
      this.#release(fd);
      this.#addEntry(to.dir, to.name, to.entry);
    }
  }

  pause(): void {
    this.#setPaused(true);
  }

  resume(): void {
    this.#setPaused(false);
  }

  #setPaused(paused: boolean): void {
    if (this.#closed || this.#paused === paused) return;
    this.#paused = paused;
    for (const fd of this.#watches.keys()) this.#ctx.native.srcPause(this.#ctx.binding.constants.EVFILT_VNODE, fd, paused);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fd of [...this.#watches.keys()]) this.#release(fd);
  }
}

/** Creates the handle of `spec` on the poller of `ctx`. */
export function addSource<K extends SourceKind>(ctx: SourceContext, spec: SourceSpecs[K], token: number): SourceHandles[K] {
  switch (spec.kind) {
    case 'timer':
      return new KqueueTimer(ctx, spec as TimerSourceSpec, token) as unknown as SourceHandles[K];
    case 'notifier':
      return new KqueueNotifier(ctx, spec as NotifierSourceSpec, token) as unknown as SourceHandles[K];
    case 'signal':
      return new KqueueSignal(ctx, spec as SignalSourceSpec, token) as unknown as SourceHandles[K];
    case 'processExit':
      return new KqueueProcessExit(ctx, spec as ProcessExitSourceSpec, token) as unknown as SourceHandles[K];
    case 'pathWatch':
      return new KqueuePathWatch(ctx, token) as unknown as SourceHandles[K];
    default:
      throw new UnsupportedError('kqueue', (spec as { kind: string }).kind);
  }
}
