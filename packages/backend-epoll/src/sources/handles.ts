/**
 * The epoll backend's event sources: each is a Linux descriptor (timerfd, signalfd, eventfd, inotify, pidfd)
 * registered in the poller with the runtime's token, read and decoded here when the runtime asks.
 *
 * @module
 */

import { constants } from 'node:os';
import {
  InvalidArgumentError,
  Interest,
  UnsupportedError,
  errnoError,
  type NotifierRecord,
  type NotifierRemote,
  type NotifierSourceHandle,
  type PathAddOptions,
  type PathRecord,
  type PathRecordKind,
  type PathWatchSourceHandle,
  type Poller,
  type ProcessExitRecord,
  type ProcessExitSourceHandle,
  type SignalRecord,
  type SignalSourceHandle,
  type SourceHandle,
  type SourceHandles,
  type SourceKind,
  type SourceSpecs,
  type TimerArming,
  type TimerRecord,
  type TimerSourceHandle,
} from '@fdloop/core';
import { WOULD_BLOCK, eventfd, read as sysRead, write as sysWrite } from '../sys.js';
import { k, nativeSources, type NativeOwnedFd } from './native.js';

const E = constants.errno;

/** Check a `-errno` result and return it as a non-negative number. */
function check(rc: number, syscall: string, detail?: { path?: string; fd?: number; message?: string }): number {
  if (rc < 0) throw errnoError(rc, syscall, detail);
  return rc;
}

/** Shared part: one descriptor, registered for READABLE with the runtime's token. */
abstract class FdSource<R> implements SourceHandle<R> {
  protected readonly owned: NativeOwnedFd;
  readonly fd: number;
  private paused = false;
  private closed = false;

  constructor(
    protected readonly poller: Poller,
    private readonly token: number,
    fd: number,
    signo = 0,
  ) {
    const S = nativeSources();
    this.owned = new S.OwnedFd(fd, signo);
    this.fd = fd;
    try {
      poller.register(fd, token, Interest.READABLE);
    } catch (err) {
      this.owned.close();
      throw err;
    }
  }

  abstract read(): R[];

  pause(): void {
    if (this.paused || this.closed) return;
    this.poller.deregister(this.fd);
    this.paused = true;
  }

  resume(): void {
    if (!this.paused || this.closed) return;
    this.poller.register(this.fd, this.token, Interest.READABLE);
    this.paused = false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.paused) {
      try {
        this.poller.deregister(this.fd);
      } catch {
        // The poller was closed first (runtime close): the epoll descriptor, and our registration with it, is gone.
      }
    }
    this.owned.close();
  }
}

const CLOCK_IDS = { monotonic: 0, realtime: 1, boottime: 2 } as const;

class TimerFd extends FdSource<TimerRecord> implements TimerSourceHandle {
  arm(arming: TimerArming): void {
    const S = nativeSources();
    check(S.timerfdSet(this.fd, arming.absolute, arming.value, arming.interval), 'timerfd_settime', { fd: this.fd });
  }

  disarm(): void {
    check(nativeSources().timerfdSet(this.fd, false, 0, 0), 'timerfd_settime', { fd: this.fd });
  }

  read(): TimerRecord[] {
    const n = check(nativeSources().timerfdRead(this.fd), 'read', { fd: this.fd });
    return n > 0 ? [{ expirations: n }] : [];
  }
}

/** `struct signalfd_siginfo` is 128 bytes (checked by a static_assert in native/sources/linux_sources.cc). */
const SIGINFO_SIZE = 128;

/** Decode `signalfd_siginfo` records. Exported for the tests. */
export function decodeSiginfo(buf: Uint8Array, length: number): SignalRecord[] {
  const view = new DataView(buf.buffer, buf.byteOffset, length);
  const out: SignalRecord[] = [];
  const siQueue = k('SI_QUEUE');
  for (let off = 0; off + SIGINFO_SIZE <= length; off += SIGINFO_SIZE) {
    const signo = view.getUint32(off, true);
    const code = view.getInt32(off + 8, true);
    const pid = view.getUint32(off + 12, true);
    const uid = view.getUint32(off + 16, true);
    const value = view.getInt32(off + 44, true);
    out.push(code === siQueue ? { signo, code, pid, uid, value, count: 1 } : { signo, code, pid, uid, count: 1 });
  }
  return out;
}

class SignalFd extends FdSource<SignalRecord> implements SignalSourceHandle {
  private readonly buf = Buffer.alloc(SIGINFO_SIZE * 16);

  read(): SignalRecord[] {
    const out: SignalRecord[] = [];
    // Bounded: a signal storm must not keep this loop (and the thread) busy forever; the rest stays pending.
    for (let i = 0; i < 64; i++) {
      const n = sysRead(this.fd, this.buf);
      if (n === WOULD_BLOCK || n <= 0) break;
      out.push(...decodeSiginfo(this.buf, n));
    }
    return out;
  }
}

const U64 = 8;

/** Write `count` to an eventfd (the notifier's counter). */
function writeCount(fd: number, count: number): void {
  const buf = Buffer.alloc(U64);
  buf.writeBigUInt64LE(BigInt(count));
  const n = sysWrite(fd, buf);
  // EAGAIN: the counter would pass 2^64 - 2, which a safe integer cannot reach unless nobody ever reads it.
  if (n === WOULD_BLOCK) throw errnoError(-E.EAGAIN, 'write', { fd, message: 'the notifier counter is full (nobody reads it)' });
}

class EventFd extends FdSource<NotifierRecord> implements NotifierSourceHandle {
  private readonly buf = Buffer.alloc(U64);
  readonly remote: NotifierRemote;

  constructor(poller: Poller, token: number, fd: number) {
    super(poller, token, fd);
    this.remote = Object.freeze({ backend: 'epoll', fd });
  }

  notify(count: number): void {
    writeCount(this.fd, count);
  }

  read(): NotifierRecord[] {
    const out: NotifierRecord[] = [];
    // Semaphore mode returns 1 per read; bounded so a large count cannot monopolize the loop (level-triggered
    // readiness brings us back for the rest).
    for (let i = 0; i < 1024; i++) {
      const n = sysRead(this.fd, this.buf);
      if (n !== U64) break;
      out.push({ count: Number(this.buf.readBigUInt64LE(0)) });
    }
    return out;
  }
}

/** Trigger an epoll notifier from any thread: write an 8-byte count to its eventfd. */
export function notifyEventfd(remote: NotifierRemote, count: number): void {
  const fd = remote.fd;
  if (remote.backend !== 'epoll' || typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new InvalidArgumentError('remote', 'is not the remote of an epoll notifier ({ backend: "epoll", fd })');
  }
  writeCount(fd, count);
}

const INOTIFY_EVENT_HEADER = 16;

/** Decode `struct inotify_event` records. Exported for the tests. */
export function decodeInotify(buf: Uint8Array, length: number): PathRecord[] {
  const view = new DataView(buf.buffer, buf.byteOffset, length);
  const out: PathRecord[] = [];
  const IN = {
    ACCESS: k('IN_ACCESS'),
    MODIFY: k('IN_MODIFY'),
    ATTRIB: k('IN_ATTRIB'),
    CLOSE_WRITE: k('IN_CLOSE_WRITE'),
    MOVED_FROM: k('IN_MOVED_FROM'),
    MOVED_TO: k('IN_MOVED_TO'),
    CREATE: k('IN_CREATE'),
    DELETE: k('IN_DELETE'),
    DELETE_SELF: k('IN_DELETE_SELF'),
    MOVE_SELF: k('IN_MOVE_SELF'),
    UNMOUNT: k('IN_UNMOUNT'),
    Q_OVERFLOW: k('IN_Q_OVERFLOW'),
    IGNORED: k('IN_IGNORED'),
    ISDIR: k('IN_ISDIR'),
  };
  const kinds: Array<[number, PathRecordKind]> = [
    [IN.Q_OVERFLOW, 'overflow'],
    [IN.CREATE, 'create'],
    [IN.MODIFY, 'modify'],
    [IN.ATTRIB, 'attrib'],
    [IN.CLOSE_WRITE, 'closeWrite'],
    [IN.DELETE, 'delete'],
    [IN.MOVED_FROM, 'movedFrom'],
    [IN.MOVED_TO, 'movedTo'],
    [IN.DELETE_SELF, 'deleteSelf'],
    [IN.MOVE_SELF, 'moveSelf'],
    [IN.UNMOUNT, 'unmount'],
    [IN.IGNORED, 'ignored'],
  ];
  for (let off = 0; off + INOTIFY_EVENT_HEADER <= length; ) {
    const wd = view.getInt32(off, true);
    const mask = view.getUint32(off + 4, true);
    const cookie = view.getUint32(off + 8, true);
    const len = view.getUint32(off + 12, true);
    let name: string | undefined;
    if (len > 0) {
      const start = off + INOTIFY_EVENT_HEADER;
      let end = start;
      while (end < start + len && buf[end] !== 0) end++;
      name = Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');
    }
    const isDirectory = (mask & IN.ISDIR) !== 0;
    // One kernel event can carry several bits (IN_DELETE_SELF is followed by a separate IN_IGNORED, but
    // IN_UNMOUNT comes with IN_IGNORED set in the same event): report each.
    for (const [bit, kind] of kinds) {
      if ((mask & bit) === 0) continue;
      const record: PathRecord = { kind, watch: kind === 'overflow' ? -1 : wd, cookie, isDirectory };
      out.push(name === undefined ? record : { ...record, name });
    }
    off += INOTIFY_EVENT_HEADER + len;
  }
  return out;
}

class InotifySet extends FdSource<PathRecord> implements PathWatchSourceHandle {
  readonly nativeRecursive = false;
  private readonly buf = Buffer.alloc(64 * 1024);
  private readonly mask: number;

  constructor(poller: Poller, token: number, fd: number) {
    super(poller, token, fd);
    this.mask =
      k('IN_MODIFY') | k('IN_ATTRIB') | k('IN_CLOSE_WRITE') | k('IN_MOVED_FROM') | k('IN_MOVED_TO') | k('IN_CREATE') |
      k('IN_DELETE') | k('IN_DELETE_SELF') | k('IN_MOVE_SELF');
  }

  add(path: string, options: PathAddOptions): number {
    const mask = this.mask | (options.followSymlinks ? 0 : k('IN_DONT_FOLLOW'));
    const rc = nativeSources().inotifyAdd(this.fd, path, mask);
    if (rc === -E.ENOSPC) {
      throw errnoError(rc, 'inotify_add_watch', {
        path,
        message: 'the per-user inotify watch limit is reached; raise fs.inotify.max_user_watches (sysctl) or watch fewer directories',
      });
    }
    return check(rc, 'inotify_add_watch', { path });
  }

  remove(watch: number): void {
    const rc = nativeSources().inotifyRm(this.fd, watch);
    // EINVAL: the kernel already dropped the watch (its path was deleted); that is what remove() wants.
    if (rc < 0 && rc !== -E.EINVAL) check(rc, 'inotify_rm_watch', { fd: this.fd });
  }

  read(): PathRecord[] {
    const out: PathRecord[] = [];
    for (let i = 0; i < 16; i++) {
      const n = sysRead(this.fd, this.buf);
      if (n === WOULD_BLOCK || n <= 0) break;
      out.push(...decodeInotify(this.buf, n));
    }
    return out;
  }
}

class PidFd extends FdSource<ProcessExitRecord> implements ProcessExitSourceHandle {
  private readonly status = new Int32Array(2);
  private done = false;

  constructor(
    poller: Poller,
    token: number,
    fd: number,
    private readonly pid: number,
  ) {
    super(poller, token, fd);
  }

  read(): ProcessExitRecord[] {
    if (this.done) return [];
    // A pidfd becomes readable only when the process has exited, so every report is the exit.
    const rc = check(nativeSources().pidfdStatus(this.fd, this.status), 'waitid', { fd: this.fd });
    this.done = true;
    if (rc === 0) return [{ pid: this.pid, code: null, signo: null, coreDumped: false }];
    const [kind, value] = this.status as unknown as [number, number];
    return kind === 1
      ? [{ pid: this.pid, code: value, signo: null, coreDumped: false }]
      : [{ pid: this.pid, code: null, signo: value, coreDumped: kind === 3 }];
  }
}

/** `poller.addSource` of the epoll backend. */
export function addEpollSource<K extends SourceKind>(poller: Poller, spec: SourceSpecs[K], token: number): SourceHandles[K] {
  const S = nativeSources();
  switch (spec.kind) {
    case 'timer': {
      const clock = CLOCK_IDS[(spec as SourceSpecs['timer']).clock];
      if (clock === undefined) throw new UnsupportedError('epoll', `timer clock ${String((spec as SourceSpecs['timer']).clock)}`);
      const fd = check(S.timerfdCreate(clock), 'timerfd_create');
      return new TimerFd(poller, token, fd) as unknown as SourceHandles[K];
    }
    case 'signal': {
      const signo = (spec as SourceSpecs['signal']).signo;
      const fd = check(S.signalfdOpen(signo), 'signalfd', {
        message: `cannot subscribe to signal ${signo}`,
      });
      return new SignalFd(poller, token, fd, signo) as unknown as SourceHandles[K];
    }
    case 'notifier': {
      const fd = eventfd(0, { semaphore: (spec as SourceSpecs['notifier']).semaphore });
      return new EventFd(poller, token, fd) as unknown as SourceHandles[K];
    }
    case 'pathWatch': {
      const fd = check(S.inotifyInit(), 'inotify_init1');
      return new InotifySet(poller, token, fd) as unknown as SourceHandles[K];
    }
    case 'processExit': {
      const pid = (spec as SourceSpecs['processExit']).pid;
      const fd = check(S.pidfdOpen(pid), 'pidfd_open', { message: `process ${pid}` });
      return new PidFd(poller, token, fd, pid) as unknown as SourceHandles[K];
    }
    default:
      throw new UnsupportedError('epoll', `source kind ${String((spec as { kind: unknown }).kind)}`);
  }
}
