/**
 * Linux fanotify: directory, mount and filesystem marks with names reported (`FAN_REPORT_DFID_NAME`), and
 * permission events answered with allow/deny — with a safety default so a slow or broken handler cannot hang the
 * processes waiting on it.
 *
 * Needs `CAP_SYS_ADMIN` (root). A notification group (`permission: false`, the default) reports what happened with
 * the directory and the entry name; a permission group (`permission: true`) reports who is about to open or read a
 * file and waits for the answer.
 *
 * **Never open a file under your own permission mark from the listener's thread.** The kernel holds that open until
 * the listener answers, and the listener is the thread now stuck in `open()`: a deadlock that only killing the
 * process ends. fdloop guards what it can: permission events raised by this very process (for example an
 * asynchronous `fs.readFile` from the handler, which runs on a libuv pool thread) are allowed at once without
 * calling the handler, so a handler that reads the file it is judging cannot loop or wait on itself; the event's
 * path is found with `readlink` on `/proc/self/fd`, which opens nothing. Synchronous opens (`fs.readFileSync`) of
 * marked files on the listener's thread cannot be guarded: do not make them.
 *
 * @module
 */

import { closeSync, openSync, readlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Interest, InvalidArgumentError, describeReceived, errnoError, type Runtime, type Timer, type Watcher } from '@fdloop/core';
import { WOULD_BLOCK, close as sysClose, read as sysRead, write as sysWrite } from './sys.js';
import { k, nativeSources } from './sources/native.js';

/** What a fanotify event can report. Kinds ending in `Perm` are permission events. */
export type FanotifyEventKind =
  | 'access'
  | 'modify'
  | 'attrib'
  | 'closeWrite'
  | 'closeNoWrite'
  | 'open'
  | 'openExec'
  | 'movedFrom'
  | 'movedTo'
  | 'create'
  | 'delete'
  | 'deleteSelf'
  | 'moveSelf'
  | 'overflow'
  | 'openPerm'
  | 'accessPerm'
  | 'openExecPerm';

const KIND_CONSTANTS: ReadonlyArray<[FanotifyEventKind, string]> = [
  ['access', 'FAN_ACCESS'],
  ['modify', 'FAN_MODIFY'],
  ['attrib', 'FAN_ATTRIB'],
  ['closeWrite', 'FAN_CLOSE_WRITE'],
  ['closeNoWrite', 'FAN_CLOSE_NOWRITE'],
  ['open', 'FAN_OPEN'],
  ['openExec', 'FAN_OPEN_EXEC'],
  ['movedFrom', 'FAN_MOVED_FROM'],
  ['movedTo', 'FAN_MOVED_TO'],
  ['create', 'FAN_CREATE'],
  ['delete', 'FAN_DELETE'],
  ['deleteSelf', 'FAN_DELETE_SELF'],
  ['moveSelf', 'FAN_MOVE_SELF'],
  ['overflow', 'FAN_Q_OVERFLOW'],
  ['openPerm', 'FAN_OPEN_PERM'],
  ['accessPerm', 'FAN_ACCESS_PERM'],
  ['openExecPerm', 'FAN_OPEN_EXEC_PERM'],
];
const PERMISSION_KINDS = new Set<FanotifyEventKind>(['openPerm', 'accessPerm', 'openExecPerm']);

/** One fanotify event. */
export interface FanotifyEvent {
  /** What happened (one event may carry several kinds). */
  readonly kinds: readonly FanotifyEventKind[];
  /** The raw `FAN_*` mask. */
  readonly mask: number;
  /** The process that caused it. */
  readonly pid: number;
  /** Whether the subject is a directory (`FAN_ONDIR`). */
  readonly isDirectory: boolean;
  /** The full path, when known: `directory/name` for named events, the event file's path for permission events. */
  readonly path?: string;
  /** The directory of a named event (`FAN_REPORT_DFID_NAME`). */
  readonly directory?: string;
  /** The entry name of a named event. */
  readonly name?: string;
  /** Permission events only: let the operation proceed. The first answer wins; later ones are ignored. */
  allow?(): void;
  /** Permission events only: make the operation fail with `EPERM`. */
  deny?(): void;
}

/** Options of {@link fanotify}. */
export interface FanotifyOptions {
  /** A permission group (`FAN_CLASS_CONTENT`) instead of a notification group. Defaults to `false`. */
  readonly permission?: boolean;
  /**
   * The answer given when the handler has not answered within {@link FanotifyOptions.timeoutMs}, when it throws,
   * and for events still pending when the group closes. Defaults to `'allow'`, so a broken listener degrades to
   * "no policy" rather than to a system where nothing can be opened.
   */
  readonly defaultResponse?: 'allow' | 'deny';
  /** How long a permission event may wait for the handler, in milliseconds. Defaults to `1000`. */
  readonly timeoutMs?: number;
}

/** Options of {@link Fanotify.mark}. */
export interface FanotifyMarkOptions {
  /**
   * `'inode'`: the file or directory itself; `'directory'`: a directory and the entries in it (adds
   * `FAN_EVENT_ON_CHILD`); `'mount'`: the whole mount containing `path`; `'filesystem'`: the whole filesystem.
   * Notification groups cannot ask mount marks for `create`/`delete`/`moved*` (the kernel refuses with `EINVAL`).
   * Defaults to `'directory'`.
   */
  readonly scope?: 'inode' | 'directory' | 'mount' | 'filesystem';
  /** The events wanted. */
  readonly events: readonly FanotifyEventKind[];
  /** Also report events on directories (`FAN_ONDIR`). Defaults to `false`. */
  readonly directories?: boolean;
}

/** A fanotify group; see {@link fanotify}. */
export interface Fanotify extends Disposable {
  /** Whether this is a permission group. */
  readonly permission: boolean;
  /** The paths marked for permission events (the ones never to open synchronously from this thread). */
  readonly permissionMarks: readonly string[];
  /** Add a mark. @throws ErrnoError from `fanotify_mark` (`ENOENT` with the path, `EINVAL` for a refused mask). */
  mark(path: string, options: FanotifyMarkOptions): void;
  /** How many permission events raised by this process were allowed by the guard without calling the handler. */
  readonly selfAllowed: number;
  /** Stop: pending permission events get the default answer, the group is closed. Idempotent. */
  close(): void;
}

const METADATA = 24;

/**
 * Create a fanotify group watched by `rt`; `callback` receives every event.
 * @throws ErrnoError `EPERM` without `CAP_SYS_ADMIN`.
 * @example
 * ```ts
 * import { fanotify } from '@fdloop/backend-epoll';
 * const fan = fanotify(rt, { permission: true, timeoutMs: 500 }, (ev) => {
 *   if (ev.path?.endsWith('.secret')) ev.deny?.(); else ev.allow?.();
 * });
 * fan.mark('/srv/data', { events: ['openPerm'] });
 * ```
 */
export function fanotify(rt: Runtime, options: FanotifyOptions, callback: (event: FanotifyEvent) => void): Fanotify {
  if (typeof callback !== 'function') throw new InvalidArgumentError('callback', 'must be a function');
  const permission = options.permission ?? false;
  const defaultResponse = options.defaultResponse ?? 'allow';
  if (defaultResponse !== 'allow' && defaultResponse !== 'deny') throw new InvalidArgumentError('defaultResponse', "must be 'allow' or 'deny'");
  const timeoutMs = options.timeoutMs ?? 1000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new InvalidArgumentError('timeoutMs', `must be a finite number >= 0, got ${describeReceived(timeoutMs)}`);
  }
  const S = nativeSources();
  const initFlags = permission ? k('FAN_CLASS_CONTENT') : k('FAN_CLASS_NOTIF') | k('FAN_REPORT_DFID_NAME');
  const fd = S.fanotifyInit(initFlags, k('O_RDONLY') | k('O_LARGEFILE'));
  if (fd < 0) throw errnoError(fd, 'fanotify_init', { message: fd === -osConstants.errno.EPERM ? 'fanotify needs CAP_SYS_ADMIN' : undefined });
  const owned = new S.OwnedFd(fd);
  /** Descriptors of marked paths, used as mount_fd for open_by_handle_at when resolving names. */
  const mountFds: number[] = [];
  const permissionMarks: string[] = [];
  const pending = new Map<number, Timer>();
  const response = Buffer.alloc(8);
  let selfAllowed = 0;
  let closed = false;

  const answer = (eventFd: number, allow: boolean): void => {
    const timer = pending.get(eventFd);
    if (timer === undefined) return;
    pending.delete(eventFd);
    timer.cancel();
    respond(eventFd, allow);
  };
  const respond = (eventFd: number, allow: boolean): void => {
    response.writeInt32LE(eventFd, 0);
    response.writeUInt32LE(allow ? k('FAN_ALLOW') : k('FAN_DENY'), 4);
    try {
      sysWrite(fd, response);
    } finally {
      sysClose(eventFd);
    }
  };

  const buf = Buffer.alloc(64 * 1024);
  const kinds = KIND_CONSTANTS.map(([kind, name]) => [kind, k(name)] as const);
  const ONDIR = k('FAN_ONDIR');
  const DFID_NAME = k('FAN_EVENT_INFO_TYPE_DFID_NAME');
  const NOFD = k('FAN_NOFD');

  const decode = (view: DataView, off: number, eventLen: number, metaLen: number): { directory?: string; name?: string } => {
    for (let at = off + metaLen; at + 4 <= off + eventLen; ) {
      const type = view.getUint8(at);
      const len = view.getUint16(at + 2, true);
      if (len === 0) break;
      if (type === DFID_NAME) {
        const handleStart = at + 12;
        const handleBytes = view.getUint32(handleStart, true);
        const nameStart = handleStart + 8 + handleBytes;
        let end = nameStart;
        while (end < at + len && buf[end] !== 0) end++;
        const name = buf.toString('utf8', nameStart, end);
        let directory: string | undefined;
        for (const m of mountFds) {
          const p = S.fanotifyHandlePath(m, buf, handleStart, 8 + handleBytes);
          if (typeof p === 'string') {
            directory = p;
            break;
          }
        }
        return directory === undefined ? { name } : { directory, name };
      }
      at += len;
    }
    return {};
  };

  const watcher: Watcher = rt.watch(fd, Interest.READABLE, () => {
    for (let round = 0; round < 16 && !closed; round++) {
      const n = sysRead(fd, buf);
      if (n === WOULD_BLOCK || n <= 0) break;
      const view = new DataView(buf.buffer, buf.byteOffset, n);
      for (let off = 0; off + METADATA <= n && !closed; ) {
        const eventLen = view.getUint32(off, true);
        if (eventLen < METADATA || off + eventLen > n) break;
        const metaLen = view.getUint16(off + 6, true);
        const mask = Number(view.getBigUint64(off + 8, true));
        const eventFd = view.getInt32(off + 16, true);
        const pid = view.getInt32(off + 20, true);
        const evKinds = kinds.filter(([, bit]) => (mask & bit) !== 0).map(([kind]) => kind);
        const isPerm = evKinds.some((kk) => PERMISSION_KINDS.has(kk));
        const named = decode(view, off, eventLen, metaLen);
        off += eventLen;
        let path: string | undefined;
        if (named.directory !== undefined && named.name !== undefined) path = named.name === '' ? named.directory : `${named.directory}/${named.name}`;
        if (eventFd >= 0 && eventFd !== NOFD) {
          try {
            // readlink opens nothing, so it cannot raise a permission event of its own.
            path = readlinkSync(`/proc/self/fd/${eventFd}`);
          } catch {
            // The file was deleted in between: no path.
          }
        }
        if (isPerm && eventFd >= 0) {
          if (pid === process.pid) {
            // The guard: our own process is waiting for this answer (see the module comment).
            selfAllowed++;
            respond(eventFd, true);
            continue;
          }
          const timer = rt.setTimeout(() => answer(eventFd, defaultResponse === 'allow'), timeoutMs);
          pending.set(eventFd, timer);
          const event: FanotifyEvent = {
            kinds: evKinds,
            mask,
            pid,
            isDirectory: (mask & ONDIR) !== 0,
            ...(path === undefined ? {} : { path }),
            allow: () => answer(eventFd, true),
            deny: () => answer(eventFd, false),
          };
          try {
            callback(event);
          } catch (err) {
            answer(eventFd, defaultResponse === 'allow');
            throw err;
          }
          continue;
        }
        if (eventFd >= 0 && eventFd !== NOFD) sysClose(eventFd);
        callback({
          kinds: evKinds,
          mask,
          pid,
          isDirectory: (mask & ONDIR) !== 0,
          ...(path === undefined ? {} : { path }),
          ...named,
        });
      }
    }
  });

  const api: Fanotify = {
    permission,
    get permissionMarks() {
      return [...permissionMarks];
    },
    get selfAllowed() {
      return selfAllowed;
    },
    mark(path, markOptions) {
      if (closed) throw new InvalidArgumentError('fanotify', 'is closed');
      if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('path', 'must be a non-empty string');
      const scope = markOptions.scope ?? 'directory';
      if (!['inode', 'directory', 'mount', 'filesystem'].includes(scope)) {
        throw new InvalidArgumentError('scope', `must be inode, directory, mount or filesystem, got ${describeReceived(scope)}`);
      }
      if (!Array.isArray(markOptions.events) || markOptions.events.length === 0) throw new InvalidArgumentError('events', 'must list at least one event kind');
      let mask = 0;
      for (const kind of markOptions.events) {
        const entry = kinds.find(([kk]) => kk === kind);
        if (entry === undefined || kind === 'overflow') throw new InvalidArgumentError('events', `unknown fanotify event kind ${String(kind)}`);
        if (PERMISSION_KINDS.has(kind) !== permission && PERMISSION_KINDS.has(kind)) {
          throw new InvalidArgumentError('events', `${kind} needs a permission group (fanotify(rt, { permission: true }, …))`);
        }
        mask += entry[1];
      }
      if (scope === 'directory') mask += k('FAN_EVENT_ON_CHILD');
      if (markOptions.directories) mask += ONDIR;
      const flags =
        k('FAN_MARK_ADD') |
        (scope === 'mount' ? k('FAN_MARK_MOUNT') : scope === 'filesystem' ? k('FAN_MARK_FILESYSTEM') : k('FAN_MARK_INODE'));
      const rc = S.fanotifyMark(fd, flags, mask, path);
      if (rc < 0) throw errnoError(rc, 'fanotify_mark', { path });
      if (permission) permissionMarks.push(path);
      else {
        // A descriptor on the marked filesystem, to turn reported file handles back into paths. Opened after the
        // mark on purpose only for notification groups, whose events never wait for us.
        try {
          mountFds.push(openSync(path, 'r'));
        } catch {
          // Unreadable: names are still reported, without the directory.
        }
      }
    },
    close() {
      if (closed) return;
      closed = true;
      watcher.close();
      for (const eventFd of [...pending.keys()]) answer(eventFd, defaultResponse === 'allow');
      for (const m of mountFds) closeSync(m);
      owned.close();
    },
    [Symbol.dispose]() {
      api.close();
    },
  };
  return api;
}
