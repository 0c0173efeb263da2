/**
 * Event sources of the IOCP backend (the contract's `contract/sources.ts`): kernel timers as thread-pool timers
 * and the cross-thread notifier, both reporting through `PostQueuedCompletionStatus` packets on the poller's
 * port, path watching through overlapped `ReadDirectoryChangesW` on the same port, and process exit through a
 * thread-pool wait on a process handle. Internal: the runtime reaches them through {@link IocpPoller.addSource}.
 *
 * @module
 */

import {
  Ready,
  UnsupportedError,
  errnoError,
  type NotifierRecord,
  type NotifierRemote,
  type NotifierSourceHandle,
  type NotifierSourceSpec,
  type PathAddOptions,
  type PathRecord,
  type PathRecordKind,
  type PathWatchSourceHandle,
  type ProcessExitRecord,
  type ProcessExitSourceHandle,
  type TimerArming,
  type TimerRecord,
  type TimerSourceHandle,
  type TimerSourceSpec,
} from '@fdloop/core';
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { errnoOf, winError } from './errors.js';
import type { NativeIocpPoller } from './native.js';

/** The most records one {@link IocpNotifier.read} returns in semaphore mode; the rest is reported again. */
const MAX_SEMAPHORE_RECORDS = 1024;

/** What the poller needs from a source to route its packets. */
export interface PacketSource {
  /**
   * Take one packet's value; return whether the token should be reported to the runtime now
   * (`Ready.READABLE`), or `false` to drop it (paused, stale, closed).
   */
  onPacket(value: number): boolean;
}

/** The remote description of an IOCP notifier: the port to post to and the token to post. */
export interface IocpNotifierRemote extends NotifierRemote {
  /** `'iocp'`. */
  readonly backend: 'iocp';
  /** The completion port's handle value. */
  readonly port: number;
  /** The token the runtime gave the notifier. */
  readonly token: number;
  /** The process that owns the port: a handle value means nothing in another process. */
  readonly pid: number;
}

/** The report value for a packet: READABLE, the only flag a source reports. */
export const SOURCE_REPORT = Ready.READABLE;

/** A cross-thread notifier: the counter lives here, notifications travel as packets carrying their count. */
export class IocpNotifier implements NotifierSourceHandle, PacketSource {
  readonly remote: IocpNotifierRemote;
  #count = 0;
  #wakePending = false;
  #paused = false;
  #closed = false;

  constructor(
    private readonly native: NativeIocpPoller,
    private readonly token: number,
    private readonly spec: NotifierSourceSpec,
    private readonly onClose: () => void,
  ) {
    this.remote = Object.freeze({ backend: 'iocp', port: native.port(), token, pid: process.pid });
  }

  onPacket(value: number): boolean {
    if (this.#closed) return false;
    if (value === 0) this.#wakePending = false;
    this.#count += value;
    return !this.#paused && this.#count > 0;
  }

  /**
   * On the owning thread the counter is updated at once, as a write to an eventfd would, so two notify() calls
   * before the loop runs are read as one sum; a single wake-up packet (value 0) gets the poller to report it.
   * Other threads' notifications travel as packets carrying their count.
   */
  notify(count: number): void {
    this.#count += count;
    if (this.#wakePending || this.#paused) return;
    const rc = this.native.postSource(this.token, 0);
    if (rc !== 0) {
      this.#count -= count;
      throw winError(rc, 'PostQueuedCompletionStatus');
    }
    this.#wakePending = true;
  }

  read(): NotifierRecord[] {
    if (this.#closed || this.#count === 0) return [];
    if (!this.spec.semaphore) {
      const count = this.#count;
      this.#count = 0;
      return [{ count }];
    }
    const n = Math.min(this.#count, MAX_SEMAPHORE_RECORDS);
    this.#count -= n;
    // Level-triggered: what is left is reported again (a packet of value 0 only wakes the poller).
    if (this.#count > 0 && !this.#paused) this.#wake();
    return Array.from({ length: n }, () => ({ count: 1 }));
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#count > 0) this.#wake();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
  }

  #wake(): void {
    if (this.#wakePending) return;
    if (this.native.postSource(this.token, 0) === 0) this.#wakePending = true;
  }
}

/**
 * A kernel timer: a Windows thread-pool timer whose callback posts `(token, generation)`. Each packet of the
 * current generation is one expiration, so a late loop sees several summed (overruns), as timerfd reports them.
 */
export class IocpTimer implements TimerSourceHandle, PacketSource {
  #gen = -1;
  #expirations = 0;
  #paused = false;
  #closed = false;

  constructor(
    private readonly native: NativeIocpPoller,
    private readonly token: number,
    private readonly spec: TimerSourceSpec,
    private readonly onClose: () => void,
  ) {
    const rc = native.timerCreate(token);
    if (rc !== 0) throw winError(rc, 'CreateThreadpoolTimer');
  }

  onPacket(value: number): boolean {
    if (this.#closed) return false;
    // 0 is a wake-up posted by resume(); any other value is an expiration of that generation.
    if (value !== 0) {
      if (value !== this.#gen) return false;
      this.#expirations++;
    }
    return !this.#paused && this.#expirations > 0;
  }

  arm(arming: TimerArming): void {
    let due = arming.value;
    let absolute = false;
    if (arming.absolute) {
      if (this.spec.clock === 'realtime') {
        absolute = true;
      } else {
        // Thread-pool timers take absolute times only as UTC; a monotonic deadline becomes a delay from now.
        due = Math.max(arming.value - Number(process.hrtime.bigint()) / 1e6, 0);
      }
    }
    this.#set(due, absolute, arming.interval);
  }

  disarm(): void {
    this.#set(-1, false, 0);
  }

  read(): TimerRecord[] {
    if (this.#closed || this.#expirations === 0) return [];
    const expirations = this.#expirations;
    this.#expirations = 0;
    return [{ expirations }];
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#expirations > 0) this.native.postSource(this.token, 0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.native.timerClose(this.token);
    this.onClose();
  }

  #set(due: number, absolute: boolean, interval: number): void {
    const gen = this.native.timerSet(this.token, due, absolute, interval);
    if (gen < 0) throw winError(-gen, 'SetThreadpoolTimer');
    this.#gen = gen;
    this.#expirations = 0;
  }
}

/** Refuse what thread-pool timers cannot do. */
export function checkTimerSpec(spec: TimerSourceSpec): void {
  if (spec.clock === 'boottime') {
    throw new UnsupportedError('iocp', "the 'boottime' clock", 'Windows thread-pool timers follow the monotonic or the realtime clock');
  }
}

// FILE_ACTION_* values, plus the addon's pseudo-actions (see DirTake in native/poller.cc).
const DIR_OVERFLOW = 0;
const DIR_GONE = 100;
const FILE_CHANGED = 101;
const FILE_DELETED = 102;
const FILE_MOVED = 103;
const FILE_ACTIONS: Record<number, PathRecordKind> = { 1: 'create', 2: 'delete', 3: 'modify', 4: 'movedFrom', 5: 'movedTo' };

/**
 * A path-watch set: one overlapped `ReadDirectoryChangesW` per watched directory, re-issued as soon as it
 * completes. Recursion is the kernel's (`bWatchSubtree`), so names can be relative paths below the directory.
 * Windows pairs a rename as two consecutive records (old name, new name); they get one cookie here.
 *
 * A **file** is watched through its directory (never recursively), keeping only records of its name, reported
 * on the watched path itself as inotify reports a watched file: `modify` (Windows says "modified" for content,
 * size, attribute and time changes alike, so there is no separate `attrib`), `deleteSelf` when it is deleted or
 * another file is renamed onto its name, `moveSelf` when it is renamed away — the last two followed by `ignored`:
 * the watch ends (it follows the name, and Windows cannot follow the file to its new name).
 *
 * `isDirectory` of a directory's entries: `ReadDirectoryChangesW` does not say (its extended form,
 * `ReadDirectoryChangesExW`, does, but Wine 8 lacks it, so it could not be tested here). The watch keeps the set
 * of directories it knows below each watched directory instead — listed when the watch is added, grown by
 * `create`/`movedTo` records whose entry `lstat` finds to be a directory when the record is read, shrunk by
 * `delete`/`movedFrom` (which answer from the set, since the entry is gone). An entry already gone again when its
 * `create` is read reports `false`.
 */
export class IocpPathWatch implements PathWatchSourceHandle, PacketSource {
  readonly nativeRecursive = true;
  readonly #ids = new Set<number>();
  /** Per watched directory: its path, whether recursive, and the relative names of the directories known below it. */
  readonly #dirs = new Map<number, { root: string; recursive: boolean; known: Set<string> }>();
  /** The directories below a directory whose `movedFrom` was read, by cookie, for its `movedTo`. */
  #movedDirs: { cookie: number; names: string[] } | undefined;
  #cookie = 0;
  #lastFrom: { watch: number; cookie: number } | undefined;
  #heldFrom: PathRecord | undefined;
  #heldOnce = false;
  #unread = false;
  #paused = false;
  #closed = false;

  constructor(
    private readonly native: NativeIocpPoller,
    private readonly token: number,
    private readonly onClose: () => void,
  ) {}

  onPacket(): boolean {
    if (this.#closed) return false;
    this.#unread = true;
    return !this.#paused;
  }

  add(path: string, options: PathAddOptions): number {
    const rc = this.native.dirAdd(path, options.recursive, this.token);
    if (rc < 0) throw winError(-rc, 'ReadDirectoryChangesW', { path });
    this.#ids.add(rc);
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) {
      const known = new Set<string>();
      this.#dirs.set(rc, { root: path, recursive: options.recursive, known });
      this.#learnTree(path, path, options.recursive, known);
    }
    return rc;
  }

  remove(watch: number): void {
    this.#dirs.delete(watch);
    if (this.#ids.delete(watch)) this.native.dirRemove(watch);
  }

  /** Adds the directories below `dir` (all levels when recursive) to `known`, named relative to `root`. */
  #learnTree(root: string, dir: string, recursive: boolean, known: Set<string>): void {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true, recursive });
    } catch {
      return; // gone or unreadable already: its records will say so
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      // Node 20.12+ names the entry's directory `parentPath`; older 20.x only `path`.
      const parent = (entry as { parentPath?: string }).parentPath ?? (entry as unknown as { path: string }).path;
      known.add(relative(root, join(parent, entry.name)));
    }
  }

  /** Whether the entry of a record is a directory: `lstat` for a new name, the known set for a gone one. */
  #isDirectory(watch: number, kind: PathRecordKind, name: string, cookie: number): boolean {
    const dir = this.#dirs.get(watch);
    if (dir === undefined) return false;
    const { known } = dir;
    if (kind === 'delete' || kind === 'movedFrom') {
      if (!known.delete(name)) return false;
      const prefix = name + sep;
      const below = [...known].filter((n) => n.startsWith(prefix));
      for (const n of below) known.delete(n);
      if (kind === 'movedFrom') this.#movedDirs = { cookie, names: below.map((n) => n.slice(prefix.length)) };
      return true;
    }
    if (kind === 'modify') return known.has(name);
    const isDirectory = lstatSync(join(dir.root, name), { throwIfNoEntry: false })?.isDirectory() === true;
    if (!isDirectory) return false;
    known.add(name);
    if (dir.recursive) {
      const moved = this.#movedDirs;
      if (kind === 'movedTo' && cookie !== 0 && moved?.cookie === cookie) {
        // A rename inside the tree: what was below the old name is below the new one.
        for (const n of moved.names) known.add(name + sep + n);
      } else {
        // A directory created or moved in with contents: learn what is below it.
        this.#learnTree(dir.root, join(dir.root, name), true, known);
      }
    }
    return true;
  }

  read(): PathRecord[] {
    if (this.#closed) return [];
    this.#unread = false;
    const flat = this.native.dirTake(this.token);
    const records: PathRecord[] = [];
    // A rename held back by the previous read (see below) goes first, so its new name can join it.
    if (this.#heldFrom !== undefined) records.push(this.#heldFrom);
    this.#heldFrom = undefined;
    let lastFrom = this.#lastFrom;
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const watch = flat[i] as number;
      const action = flat[i + 1] as number;
      const name = flat[i + 2] as string;
      if (action === DIR_OVERFLOW) {
        records.push({ kind: 'overflow', watch: -1, cookie: 0, isDirectory: false });
      } else if (action === DIR_GONE || action === FILE_DELETED || action === FILE_MOVED) {
        // The watch has ended (no read is pending any more): free its handle now, not at close.
        this.#dirs.delete(watch);
        if (this.#ids.delete(watch)) this.native.dirRemove(watch);
        const isDirectory = action === DIR_GONE;
        records.push({ kind: action === FILE_MOVED ? 'moveSelf' : 'deleteSelf', watch, cookie: 0, isDirectory });
        records.push({ kind: 'ignored', watch, cookie: 0, isDirectory });
      } else if (action === FILE_CHANGED) {
        records.push({ kind: 'modify', watch, cookie: 0, isDirectory: false });
      } else {
        const kind = FILE_ACTIONS[action];
        if (kind === undefined) continue;
        let cookie = 0;
        if (kind === 'movedFrom') {
          cookie = ++this.#cookie;
          lastFrom = { watch, cookie };
        } else if (kind === 'movedTo' && lastFrom?.watch === watch) {
          cookie = lastFrom.cookie;
          lastFrom = undefined;
        }
        // FILE_NOTIFY_INFORMATION does not say whether the entry is a directory: see the class comment.
        records.push({ kind, watch, name, cookie, isDirectory: this.#isDirectory(watch, kind, name, cookie) });
      }
    }
    // Windows puts a rename's old and new names in one notification buffer; Wine sometimes completes them
    // separately. The runtime joins a rename only within one read(), so a trailing old name is held back for
    // one more round (a wake-up packet makes that round come at once); if no new name follows by then, it is
    // delivered alone (a move out of the watched tree).
    const last = records[records.length - 1];
    if (last?.kind === 'movedFrom' && !this.#heldOnce) {
      records.pop();
      this.#heldFrom = last;
      this.#heldOnce = true;
      this.native.postSource(this.token, 0);
    } else {
      this.#heldOnce = false;
      lastFrom = undefined;
    }
    this.#lastFrom = lastFrom;
    return records;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#unread) this.native.postSource(this.token, 0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of this.#ids) this.native.dirRemove(id);
    this.#ids.clear();
    this.#dirs.clear();
    this.onClose();
  }
}

/** `ERROR_INVALID_PARAMETER`: what `OpenProcess` says for a process id that names no process. */
const ERROR_INVALID_PARAMETER = 87;

/**
 * A process-exit wait: `OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION)` plus a one-shot
 * `RegisterWaitForSingleObject` whose callback posts a packet when the process ends. The record carries the
 * exit code from `GetExitCodeProcess` (an unsigned 32-bit value) and `signo: null`: Windows has no signals, and a
 * process ended by `TerminateProcess` (Node's `child.kill()`) only has the exit code it was given (1 for Node).
 */
export class IocpProcessExit implements ProcessExitSourceHandle, PacketSource {
  #exited = false;
  #delivered = false;
  #paused = false;
  #closed = false;

  constructor(
    private readonly native: NativeIocpPoller,
    private readonly token: number,
    private readonly pid: number,
    private readonly onClose: () => void,
  ) {
    const rc = native.procOpen(pid, token);
    if (rc === ERROR_INVALID_PARAMETER) {
      throw errnoError(errnoOf('ESRCH'), 'OpenProcess', { message: `no process with id ${pid} (Windows error ${rc})` });
    }
    if (rc !== 0) throw winError(rc, 'OpenProcess');
  }

  onPacket(value: number): boolean {
    if (this.#closed) return false;
    if (value !== 0) this.#exited = true;
    return !this.#paused && this.#exited && !this.#delivered;
  }

  read(): ProcessExitRecord[] {
    if (this.#closed || !this.#exited || this.#delivered) return [];
    const code = this.native.procExitCode(this.token);
    if (code < 0) throw winError(-code, 'GetExitCodeProcess');
    this.#delivered = true;
    return [{ pid: this.pid, code, signo: null, coreDumped: false }];
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#exited && !this.#delivered) this.native.postSource(this.token, 0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.native.procClose(this.token);
    this.onClose();
  }
}
