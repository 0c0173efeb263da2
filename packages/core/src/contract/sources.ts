/**
 * Portable event sources: the part of the contract for kernel timers, signals, a cross-thread notifier, path
 * watching and process exit.
 *
 * OTHER PACKAGES BUILD ON THIS FILE: backend-epoll implements it with timerfd / signalfd / eventfd / inotify /
 * pidfd, backend-kqueue with `EVFILT_TIMER` / `EVFILT_SIGNAL` / `EVFILT_USER` / `EVFILT_VNODE` / `EVFILT_PROC`,
 * backend-iocp with thread-pool timers / `PostQueuedCompletionStatus` / `ReadDirectoryChangesW` / process handles,
 * and `@fdloop/mod-fs`'s `watch(path)` is built on {@link Runtime.watchPath}. Change it only by adding optional
 * members; never rename or remove one.
 *
 * ## How a source travels (backend side)
 * 1. The runtime checks the capability ({@link Capabilities.timer}, `signal`, `notifier`, `pathWatch`,
 *    `processExit`), validates the user's input, takes a slot in its watcher slab and calls
 *    {@link SourcePoller.addSource}`(spec, token)` on the poller. The token is built like a watcher's token
 *    (slot and generation), so stale reports are dropped by the runtime exactly as for descriptors.
 * 2. When the source has something to report, the backend puts `(token, Ready.READABLE)` into the normal batch
 *    (with {@link Ready.ERROR} added if the source itself failed). Readiness is **level-triggered**: the backend
 *    keeps reporting the token while {@link SourceHandle.read} would return records. Spurious reports are
 *    allowed; `read()` then returns an empty array.
 * 3. For each report the runtime calls {@link SourceHandle.read}, which drains what is pending **without
 *    blocking** and returns decoded records. How the details are obtained is the backend's business: epoll reads
 *    them from the source's descriptor (a timerfd's 8-byte counter, `signalfd_siginfo`, `inotify_event`s);
 *    kqueue may keep what the harvest saw in `kevent.data`/`fflags` and hand it out here.
 * 4. {@link SourceHandle.pause} / {@link SourceHandle.resume} stop and restart reporting (backpressure for a
 *    consumer that is not pulling). While paused the kernel keeps what it can (a timer counts overruns, an
 *    inotify queue fills up and reports an overflow, an eventfd counter accumulates).
 * 5. {@link SourceHandle.close} releases the kernel object. After it returns the token is never reported again
 *    and no record is lost silently: anything unread is discarded with the source, by the user's request.
 *
 * Every handle method throws an {@link ErrnoError} (Node-shaped, built with {@link errnoError}) when a system
 * call fails, and changes nothing when it does.
 *
 * ## What the user sees (runtime side)
 * `rt.timer()`, `rt.signal()`, `rt.notifier()`, `rt.watchPath()` and `rt.processExit()` return an
 * {@link LoopSource}: events go to an optional callback, to {@link LoopSource.once} promises and to async
 * iterators ({@link LoopSource.events}), all with `AbortSignal` support. A source is pending work for
 * {@link Runtime.run} (and keeps Node alive) while it is open and ref'd, unless {@link LoopSource.unref} was
 * called; a one-shot timer counts only while armed and a process-exit source only until the exit is reported.
 *
 * @module
 */

/** The portable source kinds. Each one is also a {@link Capabilities} flag of the same name. */
export type SourceKind = 'timer' | 'signal' | 'notifier' | 'pathWatch' | 'processExit';

/** Every {@link SourceKind}, in a stable order. */
export const SOURCE_KINDS: readonly SourceKind[] = Object.freeze(['timer', 'signal', 'notifier', 'pathWatch', 'processExit']);

// ---------------------------------------------------------------------------------------------------------------
// Backend side: specs, records, handles

/**
 * The clock of a kernel timer.
 * - `'monotonic'`: never jumps, stops while the machine is suspended (`CLOCK_MONOTONIC`; the clock of
 *   `process.hrtime()` on Linux).
 * - `'realtime'`: wall-clock time (`CLOCK_REALTIME`, `Date.now()`); absolute timers follow clock changes.
 * - `'boottime'`: like monotonic but keeps counting during suspend (`CLOCK_BOOTTIME`). Backends without such a
 *   clock throw {@link UnsupportedError} for it.
 */
export type TimerClock = 'monotonic' | 'realtime' | 'boottime';

/** Asks the backend for a kernel timer. It starts disarmed; the runtime arms it with {@link TimerSourceHandle.arm}. */
export interface TimerSourceSpec {
  /** Discriminant. */
  readonly kind: 'timer';
  /** Which clock the timer follows. */
  readonly clock: TimerClock;
}

/** When a kernel timer expires. All values in milliseconds (fractions allowed; backends round to their resolution). */
export interface TimerArming {
  /**
   * The first expiration: a delay from now when `absolute` is `false`; otherwise a point in time on the timer's
   * clock (`'realtime'`: milliseconds since the Unix epoch as `Date.now()`; `'monotonic'`/`'boottime'`:
   * milliseconds of that clock). Always > 0 (the runtime turns a zero delay into the smallest positive value).
   */
  readonly value: number;
  /** Whether `value` is absolute. */
  readonly absolute: boolean;
  /** The period after the first expiration; `0` for a one-shot timer. */
  readonly interval: number;
}

/** One report of a kernel timer. */
export interface TimerRecord {
  /**
   * How many expirations happened since the previous record: `1` normally, more when the loop was late
   * (overruns), as `read(timerfd)` reports. Always ≥ 1.
   */
  readonly expirations: number;
}

/** Asks the backend to receive one signal. The runtime validates the number and refuses SIGKILL/SIGSTOP. */
export interface SignalSourceSpec {
  /** Discriminant. */
  readonly kind: 'signal';
  /** The signal number on this platform (`os.constants.signals`). */
  readonly signo: number;
}

/** The details of one received signal. Fields the platform cannot report are `undefined`, never invented. */
export interface SignalRecord {
  /** The signal number. */
  readonly signo: number;
  /** `si_code`: `0` (`SI_USER`) for kill(2), `-1` (`SI_QUEUE`) for sigqueue(3), others from the kernel. */
  readonly code?: number;
  /** The sending process (`si_pid`), when known. */
  readonly pid?: number;
  /** The sending user's real uid (`si_uid`), when known. */
  readonly uid?: number;
  /** The integer of a sigqueue(3) value (`si_int`); `undefined` unless sent with a value. */
  readonly value?: number;
  /**
   * How many deliveries this record stands for. Standard signals are not queued by the kernel, so several sends
   * while one is pending merge into one delivery; backends that count them (kqueue's `data`) report the count.
   * Defaults to `1`.
   */
  readonly count?: number;
}

/** Asks the backend for a cross-thread notifier. */
export interface NotifierSourceSpec {
  /** Discriminant. */
  readonly kind: 'notifier';
  /**
   * Counter semantics (`false`): each read returns the sum of all notifications since the previous one.
   * Semaphore semantics (`true`): each read returns `1` and decrements the counter by one, so `n` notifications
   * produce `n` records.
   */
  readonly semaphore: boolean;
}

/** One report of a notifier. */
export interface NotifierRecord {
  /** The amount taken from the counter: the sum of notifications (counter mode) or `1` (semaphore mode). */
  readonly count: number;
}

/**
 * A plain, structured-cloneable description of a notifier that other threads use to trigger it (post it to a
 * worker with `postMessage`). Its fields other than `backend` are the backend's (epoll: `{ fd }`, the eventfd
 * any thread or native code may `write(2)` an 8-byte count to). It stays valid until the notifier is closed;
 * triggering a closed notifier fails with `EBADF` or, if the number was reused, writes to whatever reused it —
 * so close notifiers only after the other threads stopped using them.
 */
export interface NotifierRemote {
  /** The backend's {@link Backend.name}. */
  readonly backend: string;
  /** Backend data (numbers, strings, `SharedArrayBuffer`s). */
  readonly [key: string]: unknown;
}

/**
 * Asks the backend for a path-watch set. It starts empty; the runtime adds paths with
 * {@link PathWatchSourceHandle.add}.
 */
export interface PathWatchSourceSpec {
  /** Discriminant. */
  readonly kind: 'pathWatch';
}

/**
 * What happened to a watched path or an entry of a watched directory, as the kernel reports it. The runtime
 * joins `movedFrom`/`movedTo` with the same cookie into one `rename` for the user.
 */
export type PathRecordKind =
  | 'create'
  | 'modify'
  | 'attrib'
  | 'closeWrite'
  | 'delete'
  | 'movedFrom'
  | 'movedTo'
  | 'deleteSelf'
  | 'moveSelf'
  | 'unmount'
  | 'overflow'
  | 'ignored';

/** One raw path-watch record. */
export interface PathRecord {
  /** What happened. */
  readonly kind: PathRecordKind;
  /** The id returned by {@link PathWatchSourceHandle.add}; `-1` for `overflow` (which concerns the whole set). */
  readonly watch: number;
  /** The entry's name inside the watched directory; `undefined` for events on the watched path itself. */
  readonly name?: string;
  /** Pairs `movedFrom` with `movedTo` (inotify's cookie); `0` when not a move. */
  readonly cookie: number;
  /** Whether the subject is a directory, when the kernel says so. */
  readonly isDirectory: boolean;
}

/** Options of {@link PathWatchSourceHandle.add}. */
export interface PathAddOptions {
  /** Follow a symbolic link at `path` (inotify's default). Defaults to `true`. */
  readonly followSymlinks: boolean;
  /** Recursive watching done by the kernel; only when {@link PathWatchSourceHandle.nativeRecursive}. */
  readonly recursive: boolean;
}

/** Asks the backend to wait for a process to exit. */
export interface ProcessExitSourceSpec {
  /** Discriminant. */
  readonly kind: 'processExit';
  /** The process id. */
  readonly pid: number;
}

/**
 * How a process ended. `code` and `signal` are `null` when the backend could learn only *that* it exited (the
 * process is not our child and the kernel offers no status, or another waiter reaped it first).
 *
 * **Windows** has no signals: a process always ends with an exit code, also when it was killed
 * (`TerminateProcess` stores the code the killer chose). So on Windows `signo` is always `null` and `code` is the
 * exit code `GetExitCodeProcess` reports, an unsigned 32-bit value. A child killed with Node's
 * `child.kill('SIGTERM')` (likewise `'SIGKILL'`, `'SIGINT'`, `'SIGQUIT'`) reports `code: 1, signo: null`: libuv
 * terminates it with exit code 1, and Node's own `'exit'` event says `'SIGTERM'` only because Node remembers what
 * it sent, which fdloop, watching a process id, cannot know and does not invent.
 */
export interface ProcessExitRecord {
  /** The process id. */
  readonly pid: number;
  /**
   * The exit code when it exited normally (0–255 on POSIX; on Windows the full unsigned 32-bit exit code, also
   * for a killed process), else `null`.
   */
  readonly code: number | null;
  /** The number of the signal that killed it, else `null`. Always `null` on Windows. */
  readonly signo: number | null;
  /** Whether it dumped core (only meaningful with `signo`). */
  readonly coreDumped: boolean;
}

/** Specs by kind, for {@link SourcePoller.addSource}. */
export interface SourceSpecs {
  /** A kernel timer. */
  timer: TimerSourceSpec;
  /** A signal. */
  signal: SignalSourceSpec;
  /** A cross-thread notifier. */
  notifier: NotifierSourceSpec;
  /** A path-watch set. */
  pathWatch: PathWatchSourceSpec;
  /** A process exit. */
  processExit: ProcessExitSourceSpec;
}

/** Any source spec. */
export type SourceSpec = SourceSpecs[SourceKind];

/** The part every source handle has. `R` is the record type its {@link SourceHandle.read} returns. */
export interface SourceHandle<R> {
  /**
   * Drain pending records without blocking and return them decoded (an empty array for a spurious report).
   * Called by the runtime after each report of the handle's token.
   */
  read(): R[];
  /** Stop reporting the token until {@link SourceHandle.resume}. Idempotent. */
  pause(): void;
  /** Report the token again (at once if records are pending). Idempotent. */
  resume(): void;
  /** Release the kernel object. Idempotent; the token is never reported afterwards. */
  close(): void;
}

/** A kernel timer handle. */
export interface TimerSourceHandle extends SourceHandle<TimerRecord> {
  /** Arm (or re-arm, replacing the previous setting). Pending unread expirations are discarded. */
  arm(arming: TimerArming): void;
  /** Disarm. Pending unread expirations are discarded. Idempotent. */
  disarm(): void;
}

/** A signal handle. */
export type SignalSourceHandle = SourceHandle<SignalRecord>;

/** A notifier handle. */
export interface NotifierSourceHandle extends SourceHandle<NotifierRecord> {
  /** Add `count` (a positive integer below 2^53) from the owning thread. */
  notify(count: number): void;
  /** What other threads need to trigger this notifier with {@link SourceBackend.notifyRemote}. */
  readonly remote: NotifierRemote;
}

/** A path-watch set handle. */
export interface PathWatchSourceHandle extends SourceHandle<PathRecord> {
  /**
   * Whether {@link PathAddOptions.recursive} is honoured by the kernel (`ReadDirectoryChangesW`). When `false`
   * (inotify, kqueue) the runtime adds one watch per directory itself.
   */
  readonly nativeRecursive: boolean;
  /**
   * Watch `path` (a file or a directory); returns a watch id that records carry. Adding a path already watched
   * by this set may return the same id (inotify does).
   * @throws ErrnoError `ENOENT` with the path; `ENOSPC` when the per-user watch limit is reached (the message
   *   names the limit, for example `fs.inotify.max_user_watches`).
   */
  add(path: string, options: PathAddOptions): number;
  /** Stop watching one id. Unknown ids are ignored (the kernel may have dropped it after a delete). */
  remove(watch: number): void;
}

/** A process-exit handle. Reports exactly one record, then nothing. */
export type ProcessExitSourceHandle = SourceHandle<ProcessExitRecord>;

/** Handles by kind, for {@link SourcePoller.addSource}. */
export interface SourceHandles {
  /** A kernel timer. */
  timer: TimerSourceHandle;
  /** A signal. */
  signal: SignalSourceHandle;
  /** A cross-thread notifier. */
  notifier: NotifierSourceHandle;
  /** A path-watch set. */
  pathWatch: PathWatchSourceHandle;
  /** A process exit. */
  processExit: ProcessExitSourceHandle;
}

/**
 * What a poller provides for sources (see {@link Poller.addSource}). A backend that declares any of the source
 * capabilities must implement it for those kinds.
 */
export interface SourcePoller {
  /**
   * Create the kernel object for `spec` and report its readiness with `token` through the normal batch.
   * @throws ErrnoError when the kernel refuses (`EMFILE`, `ESRCH` for a process that does not exist…);
   *   UnsupportedError for a kind or option (a clock) the backend lacks.
   */
  addSource<K extends SourceKind>(spec: SourceSpecs[K], token: number): SourceHandles[K];
}

/** What a backend provides for sources outside any poller (see {@link Backend.notifyRemote}). */
export interface SourceBackend {
  /**
   * Trigger a notifier from any thread, including threads that have no runtime (worker threads).
   * @param remote - {@link NotifierSourceHandle.remote}, possibly received through `postMessage`.
   * @param count - a positive integer. Defaults to `1` in the runtime.
   * @throws ErrnoError `EBADF` when the notifier was closed.
   */
  notifyRemote(remote: NotifierRemote, count: number): void;
}

// ---------------------------------------------------------------------------------------------------------------
// User side: the objects the runtime returns

/** Options shared by every `rt.<source>()` call. */
export interface SourceOptions {
  /** Close the source when this signal aborts; pending `once()`/`events()` reject with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Whether the source keeps the runtime and Node alive. Defaults to `true` (call `unref()` later to change). */
  readonly ref?: boolean;
  /**
   * Events buffered for `once()`/`events()` when no callback is given and nobody is pulling. When the buffer is
   * full the runtime pauses the kernel side, which then keeps what it can (see {@link SourceHandle.pause}).
   * Defaults to `1024`.
   */
  readonly highWaterMark?: number;
}

/** Options of {@link LoopSource.once} and {@link LoopSource.events}. */
export interface SourceWaitOptions {
  /** Abort the wait (not the source); the promise rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/**
 * A user-facing event source: a kernel timer, a signal subscription, a notifier, a path watcher or a process-exit
 * wait. Three ways to consume events, all from the same stream:
 * - a callback given at creation, called for every event;
 * - {@link LoopSource.once}: a promise of the next event;
 * - {@link LoopSource.events} / `for await (const ev of source)`: one event per pull.
 *
 * Events that arrive while nobody is listening are buffered (up to {@link SourceOptions.highWaterMark}) when
 * the source has no callback; with a callback they go to the callback and only events after a `once()`/`next()`
 * call reach that promise.
 *
 * @typeParam T - the event type.
 */
export interface LoopSource<T> extends AsyncIterable<T>, Disposable {
  /** The kind of source. */
  readonly kind: SourceKind;
  /** Whether {@link LoopSource.close} was called (or the runtime closed, or a one-shot source finished). */
  readonly closed: boolean;
  /** Resolve with the next event. Rejects with a {@link CancelledError} if the source closes first. */
  once(options?: SourceWaitOptions): Promise<T>;
  /** An async iterator of events; ends when the source closes. Breaking out of `for await` does not close the source. */
  events(options?: SourceWaitOptions): AsyncIterableIterator<T>;
  /** Stop the source and release its kernel object. Idempotent; no callback afterwards. */
  close(): void;
  /** Keep the runtime and Node alive while the source is active (the default). Returns the source. */
  ref(): this;
  /** Do not keep the runtime or Node alive for this source. Returns the source. */
  unref(): this;
  /** Whether the source is ref'd. */
  hasRef(): boolean;
}

/** Options of {@link Runtime.timer}. Give `delay` or `at` (or neither, to create the timer disarmed). */
export interface KernelTimerOptions extends SourceOptions, KernelTimerSetting {
  /** The clock. Defaults to `'monotonic'`. */
  readonly clock?: TimerClock;
}

/** When a kernel timer fires; see {@link KernelTimer.set}. */
export interface KernelTimerSetting {
  /** Milliseconds from now until the first expiration (a finite number ≥ 0). */
  readonly delay?: number;
  /**
   * An absolute first expiration on the timer's clock: a `Date` or milliseconds since the epoch for
   * `'realtime'`, milliseconds of `process.hrtime()`'s clock for `'monotonic'`. Not together with `delay`.
   */
  readonly at?: Date | number;
  /** Repeat every `interval` milliseconds after the first expiration (a finite number > 0). Defaults to none. */
  readonly interval?: number;
}

/** One expiration report of a {@link KernelTimer}. */
export interface TimerExpiration {
  /** Expirations since the previous report: `1`, or more after the loop was late (overrun). */
  readonly expirations: number;
}

/** A kernel timer (timerfd on Linux): one-shot or periodic, relative or absolute. */
export interface KernelTimer extends LoopSource<TimerExpiration> {
  /** Whether the timer is armed. A one-shot timer disarms when it fires. */
  readonly armed: boolean;
  /** Re-arm with a new setting (replacing the old one; unread expirations are discarded). */
  set(setting: KernelTimerSetting): void;
  /** Disarm without closing; {@link KernelTimer.set} arms it again. */
  cancel(): void;
}

/** One received signal; see {@link SignalRecord} for the fields. */
export interface SignalEvent extends SignalRecord {
  /** The signal's name, for example `'SIGUSR2'`. */
  readonly signal: string;
}

/** A signal subscription. */
export type SignalSource = LoopSource<SignalEvent>;

/** Options of {@link Runtime.notifier}. */
export interface NotifierOptions extends SourceOptions {
  /** Semaphore semantics: one event per notification instead of one summed count. Defaults to `false`. */
  readonly semaphore?: boolean;
}

/** One notifier event. */
export interface NotifierEvent {
  /** The sum of notifications since the previous event (counter mode), or `1` (semaphore mode). */
  readonly count: number;
}

/** A cross-thread notifier. Post {@link Notifier.remote} to workers; they call `notifyRemote(remote)`. */
export interface Notifier extends LoopSource<NotifierEvent> {
  /** Plain data for other threads (see {@link NotifierRemote}). */
  readonly remote: NotifierRemote;
  /** Notify from this thread. `count` defaults to `1`. */
  notify(count?: number): void;
}

/** Options of {@link Runtime.watchPath}. */
export interface PathWatchOptions extends SourceOptions {
  /**
   * Also watch every directory below `path`, including ones created later. Where the kernel cannot (inotify,
   * kqueue) the runtime adds one kernel watch per directory: the cost is one watch (counted against
   * `fs.inotify.max_user_watches`) and one directory scan per directory, and entries created inside a new
   * directory before its watch exists are reported by a scan as `create` events. Defaults to `false`.
   */
  readonly recursive?: boolean;
  /** Follow a symbolic link at `path`. Defaults to `true`. */
  readonly followSymlinks?: boolean;
}

/** The kinds of {@link PathEvent}. */
export type PathEventKind =
  | 'create'
  | 'modify'
  | 'attrib'
  | 'closeWrite'
  | 'delete'
  | 'rename'
  | 'movedIn'
  | 'movedOut'
  | 'deleteSelf'
  | 'moveSelf'
  | 'unmount'
  | 'overflow';

/** One path-watch event. */
export interface PathEvent {
  /**
   * What happened. `rename` joins a move inside the watched tree (`oldPath` → `path`); `movedIn`/`movedOut` are
   * moves whose other side is outside it. `overflow`: the kernel queue overflowed and events were lost — rescan.
   */
  readonly kind: PathEventKind;
  /** The full path of the subject (for `rename`, the new path). `''` for `overflow`. */
  readonly path: string;
  /** For `rename`: the old full path. */
  readonly oldPath?: string;
  /** Whether the subject is a directory, when known. */
  readonly isDirectory: boolean;
}

/** A path watcher. */
export interface PathWatcher extends LoopSource<PathEvent> {
  /** The watched path as given. */
  readonly path: string;
  /** How many kernel watches it uses (more than one when recursive). */
  readonly watchCount: number;
}

/** How a process ended (see {@link ProcessExitRecord}), plus its signal name. */
export interface ProcessExitEvent extends ProcessExitRecord {
  /** The name of the signal that killed it (`'SIGTERM'`), or `null` (always `null` on Windows; see {@link ProcessExitRecord}). */
  readonly signal: string | null;
}

/** A wait for one process to exit. It reports one event and then closes itself. */
export interface ProcessExitSource extends LoopSource<ProcessExitEvent> {
  /** The process id. */
  readonly pid: number;
  /** Resolves with the exit; rejects with a {@link CancelledError} if the source is closed first. */
  readonly exited: Promise<ProcessExitEvent>;
}
