/**
 * Watching sysfs-style attribute files: legacy GPIO `value` files, `/sys/class/power_supply/…/status`, cgroup v2
 * `cgroup.events` and anything else the kernel updates with `sysfs_notify()`/`kernfs_notify()`. The protocol is
 * the kernel's: read the file once, wait for `POLLPRI|POLLERR`, seek to the start, read again.
 *
 * `/proc/sys` files (such as `/proc/sys/kernel/hostname`) are different: their poll consumes the notification the
 * first time it is polled, and behind this backend's nested epoll that first poll would be libuv's readiness check
 * of our epoll descriptor, so the change would never reach us. For them (and with `relay: true`) a small native
 * relay thread polls the file directly and wakes the loop through an eventfd; sysfs/kernfs files re-report until
 * read, which the nested epoll survives, so they need no thread.
 *
 * @module
 */

import { closeSync, openSync, readSync } from 'node:fs';
import { CancelledError, Interest, InvalidArgumentError, describeReceived, errnoError, type Runtime, type Watcher } from '@fdloop/core';
import { nativeSources, type NativeAttributeRelay } from './sources/native.js';

/** One change of an attribute. */
export interface AttributeChange {
  /** The new content, with one trailing newline removed. */
  readonly value: string;
  /** Whether the kernel reported `POLLERR` with the change (sysfs and /proc/sys do). */
  readonly error: boolean;
}

/** Options of {@link watchAttribute}. */
export interface AttributeWatchOptions {
  /** The largest value read, in bytes. Defaults to `4096` (a sysfs attribute is at most one page). */
  readonly maxBytes?: number;
  /**
   * Poll the file on a relay thread instead of the runtime's epoll. Defaults to `true` for paths under `/proc/sys/`
   * (see the module documentation), `false` otherwise.
   */
  readonly relay?: boolean;
}

/** A watched attribute file; see {@link watchAttribute}. */
export interface AttributeWatcher extends Disposable {
  /** The path. */
  readonly path: string;
  /** The value read when watching started, or at the latest change. */
  readonly value: string;
  /** Resolve with the next change; rejects with a {@link CancelledError} if the watcher is closed first. */
  next(): Promise<AttributeChange>;
  /** Stop watching and close the file. Idempotent. */
  close(): void;
}

/**
 * Watch a sysfs-style attribute: `callback` receives each new value. The file stays open while watched; the
 * watcher keeps the runtime alive until closed (call `close()`, or use `using`).
 *
 * @param rt - the runtime (its backend needs priority interest, `Interest.PRIORITY`).
 * @param path - the attribute file.
 * @param callback - optional; called with every change.
 * @throws ErrnoError `ENOENT` (with the path) for a missing file, or the poller's error for a file that cannot be
 *   polled.
 *
 * @example
 * ```ts
 * import { watchAttribute } from '@fdloop/backend-epoll';
 * const w = watchAttribute(rt, '/sys/class/gpio/gpio17/value', (c) => print('gpio17 =', c.value));
 * ```
 */
export function watchAttribute(
  rt: Runtime,
  path: string,
  callback?: (change: AttributeChange, watcher: AttributeWatcher) => void,
  options: AttributeWatchOptions = {},
): AttributeWatcher {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('path', 'must be a non-empty string');
  if (callback !== undefined && typeof callback !== 'function') throw new InvalidArgumentError('callback', 'must be a function');
  const maxBytes = options.maxBytes ?? 4096;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new InvalidArgumentError('maxBytes', `must be a positive integer, got ${describeReceived(maxBytes)}`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw errnoError(e.errno ?? -5, 'open', { path });
  }
  const buf = Buffer.alloc(maxBytes);
  const readValue = (): string => {
    // pread at offset 0 is the "seek to the start, read again" step; it also re-arms the kernel's notification.
    const n = readSync(fd, buf, 0, maxBytes, 0);
    const text = buf.toString('utf8', 0, n);
    return text.endsWith('\n') ? text.slice(0, -1) : text;
  };
  const useRelay = options.relay ?? path.startsWith('/proc/sys/');
  let value: string;
  let watcher: Watcher;
  let relay: NativeAttributeRelay | undefined;
  try {
    value = readValue();
    if (useRelay) relay = new (nativeSources().AttributeRelay)(fd);
    watcher = rt.watch(relay?.fd ?? fd, relay ? Interest.READABLE : Interest.PRIORITY, (ev) => {
      value = readValue();
      relay?.ack();
      // The relay only wakes us for POLLPRI|POLLERR; the direct watch reports them as priority and error.
      const change: AttributeChange = { value, error: relay ? true : ev.error };
      const waiting = waiters.splice(0);
      for (const w of waiting) w.resolve(change);
      callback?.(change, api);
    });
  } catch (err) {
    relay?.close();
    closeSync(fd);
    throw err;
  }
  const waiters: Array<{ resolve(c: AttributeChange): void; reject(e: unknown): void }> = [];
  let closed = false;
  const api: AttributeWatcher = {
    path,
    get value() {
      return value;
    },
    next() {
      if (closed) return Promise.reject(new CancelledError(`the watcher of ${path} is closed`));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    close() {
      if (closed) return;
      closed = true;
      watcher.close();
      relay?.close();
      closeSync(fd);
      for (const w of waiters.splice(0)) w.reject(new CancelledError(`the watcher of ${path} was closed`));
    },
    [Symbol.dispose]() {
      api.close();
    },
  };
  return api;
}
