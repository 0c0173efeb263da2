/**
 * Driving a library that owns its descriptor: a C client library (libmosquitto, libpq, libcurl, c-ares, zeromq)
 * or a JavaScript protocol object that opened a socket itself and only wants to be told when to do its I/O.
 *
 * Such a library gives out its descriptor (`mosquitto_socket`, `PQsocket`), does its reading and writing in
 * functions of its own when the descriptor is ready (`mosquitto_loop_read` / `mosquitto_loop_write`), says when
 * it has output queued (`mosquitto_want_write`), wants a periodic housekeeping call (`mosquitto_loop_misc`:
 * keep-alive pings, retries), and may close its socket and open another when it reconnects. {@link OwnedFd}
 * is the glue between that and a {@link Runtime}:
 *
 * 1. **Interest follows the library.** The descriptor is always watched for {@link Interest.READABLE}, plus
 *    {@link Interest.WRITABLE} exactly while {@link OwnedFdLibrary.wantWrite} says output is queued, so a
 *    level-triggered writable socket never spins the loop.
 * 2. **A misc tick** on the runtime's own timers calls {@link OwnedFdLibrary.misc} every
 *    {@link OwnedFdOptions.miscInterval} milliseconds.
 * 3. **The descriptor may change.** After every call into the library made through the OwnedFd (read, write,
 *    misc) it asks {@link OwnedFdLibrary.fd} again: a negative number stops watching (the library closed its
 *    socket), a different number moves the watch to the new socket. After calling into the library yourself
 *    (publish, connect…), call {@link OwnedFd.sync}; after a reconnect that may have reused the same descriptor
 *    number, call {@link OwnedFd.reattach}.
 * 4. **Teardown.** {@link OwnedFd.close} stops the watch and the tick; no method of the library is called
 *    afterwards, not even for events already harvested in the current batch. Close the OwnedFd *before*
 *    destroying the library (which usually closes the descriptor).
 *
 * @module
 */

import { Interest, type InterestFlags } from './contract/index.js';
import { ErrnoError, InvalidArgumentError, describeReceived } from './errors.js';
import { routeCallbackResult, type ReadyEvent, type Runtime, type Timer, type Watcher } from './runtime.js';

/**
 * What an {@link OwnedFd} needs from the library it drives. Every method is called on the runtime's thread, from
 * a watcher callback, a timer, or {@link OwnedFd.sync}; exceptions thrown by {@link OwnedFdLibrary.read},
 * {@link OwnedFdLibrary.write} and {@link OwnedFdLibrary.misc} (and rejections of a promise they return) go to the
 * runtime's `onError` handler, and the OwnedFd still re-reads the descriptor and the write interest afterwards.
 */
export interface OwnedFdLibrary {
  /**
   * The library's current descriptor, or a negative number when it has none (not connected, or it closed its
   * socket after an error). Called after every call into the library, so it should be cheap.
   */
  fd(): number;
  /** Whether the library has output queued and wants to hear when the descriptor is writable. */
  wantWrite(): boolean;
  /**
   * The descriptor is readable — or reports hang-up or an error, which the library discovers by reading (a read
   * returns end of file or the pending error). Typically `mosquitto_loop_read`.
   */
  read(event: ReadyEvent): void;
  /** The descriptor is writable and the library wanted to write. Typically `mosquitto_loop_write`. */
  write(event: ReadyEvent): void;
  /**
   * Periodic housekeeping, every {@link OwnedFdOptions.miscInterval} ms while the OwnedFd is open, whether or not
   * a descriptor is attached (a disconnected library may reconnect here). Typically `mosquitto_loop_misc`.
   * Optional: without it no timer is created.
   */
  misc?(): void;
  /**
   * Whether the library still has work to do while it has *no* descriptor (for example, it is waiting to
   * reconnect). While this is true and no descriptor is attached, the misc timer keeps the runtime (and
   * `run()`) alive. Optional; defaults to `false`: a detached library keeps nothing alive.
   */
  active?(): boolean;
}

/** Options of {@link ownFd}. */
export interface OwnedFdOptions {
  /** Milliseconds between calls of {@link OwnedFdLibrary.misc}, a finite number > 0. Defaults to `1000`. */
  readonly miscInterval?: number;
  /**
   * Whether the OwnedFd keeps the runtime and Node alive (its watcher while a descriptor is attached, its misc
   * timer while detached but {@link OwnedFdLibrary.active}). Defaults to `true`; see {@link OwnedFd.unref}.
   */
  readonly ref?: boolean;
}

const DEFAULT_MISC_INTERVAL = 1000;

/**
 * Watches the descriptor a library owns and calls the library's I/O functions when it is ready. Create it with
 * {@link ownFd}. See the module documentation for the rules.
 */
export class OwnedFd implements Disposable {
  private readonly rt: Runtime;
  private readonly lib: OwnedFdLibrary;
  private watcher: Watcher | undefined;
  private timer: Timer | undefined;
  private refd: boolean;
  private isClosed = false;

  /** Use {@link ownFd}. */
  constructor(rt: Runtime, library: OwnedFdLibrary, options: OwnedFdOptions = {}) {
    if (library === null || typeof library !== 'object') {
      throw new InvalidArgumentError('library', `must be an object, got ${describeReceived(library)}`);
    }
    for (const name of ['fd', 'wantWrite', 'read', 'write'] as const) {
      if (typeof library[name] !== 'function') throw new InvalidArgumentError('library', `library.${name} must be a function`);
    }
    for (const name of ['misc', 'active'] as const) {
      if (library[name] !== undefined && typeof library[name] !== 'function') {
        throw new InvalidArgumentError('library', `library.${name} must be a function when given`);
      }
    }
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object');
    const interval = options.miscInterval ?? DEFAULT_MISC_INTERVAL;
    if (typeof interval !== 'number' || !Number.isFinite(interval) || interval <= 0) {
      throw new InvalidArgumentError('miscInterval', `must be a finite number > 0, got ${describeReceived(interval)}`);
    }
    this.rt = rt;
    this.lib = library;
    this.refd = options.ref ?? true;
    if (library.misc !== undefined) this.timer = rt.setInterval(this.onMisc, interval).unref();
    try {
      this.sync();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The descriptor being watched, or `-1` while none is attached. */
  get fd(): number {
    return this.watcher?.fd ?? -1;
  }

  /** The interest of the current watch ({@link Interest} bits), or `0` while no descriptor is attached. */
  get interest(): InterestFlags {
    return this.watcher?.interest ?? 0;
  }

  /** Whether {@link OwnedFd.close} was called, or the runtime was closed under it. */
  get closed(): boolean {
    return this.isClosed || this.rt.closed;
  }

  /**
   * Bring the watch up to date with the library: attach, move or drop the descriptor, and add or remove
   * {@link Interest.WRITABLE}. Call it after calling into the library yourself (a publish queues output, a
   * connect creates a socket); calls the OwnedFd makes itself are followed by a sync already. Does nothing after
   * close, so a wrapper may call it unconditionally.
   * @throws InvalidArgumentError if {@link OwnedFdLibrary.fd} returns something other than an integer; an
   *   {@link ErrnoError} if the runtime cannot watch the descriptor (`EBADF` for one the library already closed).
   */
  sync(): void {
    if (this.closed) {
      this.release();
      return;
    }
    const fd = this.lib.fd();
    if (typeof fd !== 'number' || !Number.isInteger(fd)) {
      throw new InvalidArgumentError('library.fd()', `must return an integer, got ${describeReceived(fd)}`);
    }
    if (fd < 0) {
      this.detach();
    } else {
      if (this.watcher !== undefined && this.watcher.fd !== fd) this.detach();
      const interest = Interest.READABLE | (this.lib.wantWrite() ? Interest.WRITABLE : 0);
      if (this.watcher === undefined) {
        this.attach(fd, interest);
      } else if (this.watcher.interest !== interest) {
        try {
          this.watcher.modify(interest);
        } catch (err) {
          // ENOENT: the kernel no longer has the registration, so the library closed the socket and opened a new
          // one with the same number without telling us; EBADF: it closed it and the number is still free. Either
          // way the old watch is dead: drop it and watch whatever the number is now.
          if (!(err instanceof ErrnoError) || (err.code !== 'ENOENT' && err.code !== 'EBADF')) throw err;
          this.detach();
          if (err.code === 'ENOENT') this.attach(fd, interest);
        }
      }
    }
    this.updateTimerRef();
  }

  /**
   * Drop the current watch and watch the library's descriptor afresh, even if its number did not change. Call
   * it after the library reconnected: a new socket can get the number of the one it just closed, and the
   * kernel forgot the old registration when that was closed. Does nothing after close.
   */
  reattach(): void {
    if (this.closed) return;
    this.detach();
    this.sync();
  }

  /**
   * Stop watching and stop the misc tick. Idempotent. Afterwards no method of the library is called, not even
   * for events or ticks already due. The descriptor and the library stay the caller's: close the OwnedFd first,
   * then destroy the library.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.release();
  }

  /** Keep the runtime and Node alive while the library is connected (the default). Returns the OwnedFd. */
  ref(): this {
    this.refd = true;
    this.watcher?.ref();
    this.updateTimerRef();
    return this;
  }

  /** Do not keep the runtime or Node alive for this library. Returns the OwnedFd. */
  unref(): this {
    this.refd = false;
    this.watcher?.unref();
    this.updateTimerRef();
    return this;
  }

  /** Whether the OwnedFd is ref'd. */
  hasRef(): boolean {
    return this.refd;
  }

  /** Same as {@link OwnedFd.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  private attach(fd: number, interest: InterestFlags): void {
    const w = this.rt.watch(fd, interest, this.onReady);
    if (!this.refd) w.unref();
    this.watcher = w;
  }

  private detach(): void {
    const w = this.watcher;
    this.watcher = undefined;
    // Runtime close already closed the watcher; closing again is a no-op.
    w?.close();
  }

  private release(): void {
    const timer = this.timer;
    this.timer = undefined;
    if (!this.rt.closed) timer?.cancel();
    if (!this.rt.closed) this.detach();
    else this.watcher = undefined;
  }

  private updateTimerRef(): void {
    const t = this.timer;
    if (t === undefined) return;
    const keep = this.refd && this.watcher === undefined && this.lib.active?.() === true;
    if (keep !== t.hasRef()) {
      if (keep) t.ref();
      else t.unref();
    }
  }

  private readonly onReady = (event: ReadyEvent, w: Watcher): void => {
    if (this.closed || w !== this.watcher) return;
    try {
      if (event.readable || event.hangup || event.error || event.readHangup) {
        routeCallbackResult(this.rt, this.lib.read(event) as unknown, { source: 'watcher', fd: w.fd });
        // The read may have closed the socket, replaced it, or closed us (a callback destroyed the client).
        if (this.closed) return;
        this.sync();
        if (this.watcher !== w) return;
      }
      if (event.writable && (w.interest & Interest.WRITABLE) !== 0) {
        routeCallbackResult(this.rt, this.lib.write(event) as unknown, { source: 'watcher', fd: w.fd });
      }
    } finally {
      if (!this.closed) this.sync();
    }
  };

  private readonly onMisc = (): void => {
    if (this.closed) return;
    try {
      routeCallbackResult(this.rt, this.lib.misc?.() as unknown, { source: 'timer' });
    } finally {
      if (!this.closed) this.sync();
    }
  };
}

/**
 * Drive a library that owns its descriptor from `rt`: watch its descriptor (readable, plus writable while it has
 * output queued), call its `misc` housekeeping every `miscInterval` ms, follow it to a new descriptor when it
 * reconnects, and never call it after {@link OwnedFd.close}.
 *
 * @param rt - the runtime (one per thread).
 * @param library - the library's descriptor, write interest and I/O functions; see {@link OwnedFdLibrary}.
 * @param options - see {@link OwnedFdOptions}.
 * @throws InvalidArgumentError for a malformed `library` or options, or errors of the first {@link OwnedFd.sync}.
 *
 * @example
 * ```ts
 * // A native client that owns a socket (the shape of libmosquitto's non-threaded API).
 * const owned = ownFd(rt, {
 *   fd: () => client.socket(),            // -1 while disconnected
 *   wantWrite: () => client.wantWrite(),
 *   read: () => client.loopRead(),
 *   write: () => client.loopWrite(),
 *   misc: () => client.loopMisc(),        // keep-alive pings, retries
 * });
 * client.publish('topic', payload);
 * owned.sync();                           // the publish may have queued output: watch for writable
 * // …
 * owned.close();                          // first stop the watch,
 * client.destroy();                       // then destroy the library (it closes its socket)
 * ```
 */
export function ownFd(rt: Runtime, library: OwnedFdLibrary, options: OwnedFdOptions = {}): OwnedFd {
  return new OwnedFd(rt, library, options);
}
