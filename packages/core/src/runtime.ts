/**
 * The Runtime: watchers over any file descriptor, promises and async iterators over the same mechanism, timers,
 * run-until-finished, and tracing. One runtime owns one backend poller; use one runtime per thread.
 */

import { performance } from 'node:perf_hooks';
import {
  INTEREST_CONDITIONS,
  INTEREST_MODES,
  Interest,
  Ready,
  type Backend,
  type CapabilityName,
  type InterestFlags,
  type Poller,
  type ReadyFlags,
} from './contract/index.js';
import {
  AlreadyRunningError,
  AlreadyWatchedError,
  CancelledError,
  ErrnoError,
  InvalidArgumentError,
  describeReceived,
  RuntimeClosedError,
  TooManyWatchersError,
  UnsupportedError,
  WatcherClosedError,
  errnoError,
} from './errors.js';
import { TimerQueue, type QueueEntry } from './timer-queue.js';
import { Tracer, beginTick, endTick, traceFromEnv, type TraceOptions } from './trace.js';
import { resolveBackend } from './detect.js';
import type {
  KernelTimer,
  KernelTimerOptions,
  Notifier,
  NotifierOptions,
  PathWatchOptions,
  PathWatcher,
  ProcessExitSource,
  SignalSource,
  SourceHandles,
  SourceKind,
  SourceOptions,
  SourceSpecs,
} from './contract/index.js';
import * as sources from './sources/index.js';
import { closeModules, runtimePool, useModule, type FdloopModule } from './module.js';
import type { ThreadPool, ThreadPoolOptions } from './pool/pool.js';

/** Where a handler error came from, passed to {@link RuntimeOptions.onError}. */
export interface ErrorContext {
  /**
   * The kind of callback that threw (`'source'`: an event source's callback or read, see {@link Runtime.timer}), or
   * `'poller'` for a failure of the backend's poller itself.
   */
  readonly source: 'watcher' | 'timer' | 'immediate' | 'poller' | 'module' | 'source';
  /** The descriptor, for watcher callbacks. */
  readonly fd?: number;
}

/** Receives errors thrown by callbacks. See {@link RuntimeOptions.onError}. */
export type ErrorHandler = (error: unknown, context: ErrorContext) => void;

/** Options of {@link createRuntime}. */
export interface RuntimeOptions {
  /**
   * The backend: a {@link Backend} object (for example `epoll()` from `@fdloop/backend-epoll`), or the name of
   * an installed or registered backend (`'epoll'`, `'kqueue'`, `'iocp'`). Defaults to the platform's backend,
   * found among the installed packages (see {@link detectBackend}).
   */
  readonly backend?: Backend | string;
  /** The most ready events delivered from native code per call into JS. Defaults to `1024`. */
  readonly batchSize?: number;
  /**
   * Trace every step (watch, event, timer, close) with thread name and tick markers. `true` traces to stderr.
   * Defaults to the `FDLOOP_TRACE` environment variable (`1` → stderr, `stdout` → stdout), else off.
   */
  readonly trace?: boolean | TraceOptions;
  /**
   * Called when a callback (watcher, timer, immediate, event source, `ownFd` library, module callback) throws, or
   * the poller fails. A callback may be an `async` function: when the promise it returns rejects, the rejection is
   * reported here exactly like a thrown exception (same context), never as an `unhandledRejection`. The runtime
   * keeps going: the other events of the batch are delivered, the watcher stays registered, an interval keeps its
   * schedule.
   * Defaults to rethrowing the error on the next tick, so it reaches `process.on('uncaughtException')` exactly as
   * an error thrown from a Node timer callback does (and ends the process if nothing handles it).
   */
  readonly onError?: ErrorHandler;
  /** A name shown in trace lines, useful with several runtimes. Defaults to `''` (none). */
  readonly name?: string;
  /**
   * The runtime's thread pool ({@link Runtime.pool}), started on first use. Defaults to
   * `os.availableParallelism()` workers named `pool-1…N` and a queue bound of 1024; the pool traces when the
   * runtime does.
   */
  readonly pool?: ThreadPoolOptions;
}

/**
 * One readiness report for a watched descriptor. The getters decode {@link ReadyEvent.flags}
 * ({@link Ready} bits).
 */
export class ReadyEvent {
  /** The descriptor. */
  readonly fd: number;
  /** The raw {@link Ready} bits. */
  readonly flags: ReadyFlags;

  constructor(fd: number, flags: ReadyFlags) {
    this.fd = fd;
    this.flags = flags;
  }

  /** A read will not block (data, or end of file). */
  get readable(): boolean {
    return (this.flags & Ready.READABLE) !== 0;
  }
  /** A write will not block. */
  get writable(): boolean {
    return (this.flags & Ready.WRITABLE) !== 0;
  }
  /** An exceptional condition (urgent data, a sysfs attribute change, pty packet status). */
  get priority(): boolean {
    return (this.flags & Ready.PRIORITY) !== 0;
  }
  /** The peer closed its write side (read side hung up): reads reach end of file once drained. */
  get readHangup(): boolean {
    return (this.flags & Ready.READ_HANGUP) !== 0;
  }
  /** Hang-up: the descriptor's peer is gone (both directions, or a pipe's reader for a write end). */
  get hangup(): boolean {
    return (this.flags & Ready.HANGUP) !== 0;
  }
  /** An error is pending on the descriptor. */
  get error(): boolean {
    return (this.flags & Ready.ERROR) !== 0;
  }

  /** A readable summary such as `"fd 7: readable|hangup"`. */
  toString(): string {
    return `fd ${this.fd}: ${describeReady(this.flags)}`;
  }
}

/** Describe {@link Ready} bits as `readable|writable|…`. */
export function describeReady(flags: ReadyFlags): string {
  const parts: string[] = [];
  if (flags & Ready.READABLE) parts.push('readable');
  if (flags & Ready.WRITABLE) parts.push('writable');
  if (flags & Ready.PRIORITY) parts.push('priority');
  if (flags & Ready.READ_HANGUP) parts.push('readHangup');
  if (flags & Ready.HANGUP) parts.push('hangup');
  if (flags & Ready.ERROR) parts.push('error');
  return parts.length > 0 ? parts.join('|') : 'none';
}

/** Describe {@link Interest} bits as `READABLE|EDGE`. */
export function describeInterest(interest: InterestFlags): string {
  const parts: string[] = [];
  if (interest & Interest.READABLE) parts.push('READABLE');
  if (interest & Interest.WRITABLE) parts.push('WRITABLE');
  if (interest & Interest.PRIORITY) parts.push('PRIORITY');
  if (interest & Interest.EDGE) parts.push('EDGE');
  if (interest & Interest.ONESHOT) parts.push('ONESHOT');
  return parts.join('|');
}

/** A watcher's callback: the event and the watcher it belongs to. */
export type WatchCallback = (event: ReadyEvent, watcher: Watcher) => void;

/**
 * A registration of one descriptor, returned by {@link Runtime.watch}. A watcher keeps the runtime (and Node)
 * alive while it is open and ref'd. Closing it stops delivery at once: its callback is never called afterwards,
 * not even for events already harvested in the current batch.
 */
export interface Watcher extends Disposable {
  /** The descriptor. */
  readonly fd: number;
  /** The current interest. */
  readonly interest: InterestFlags;
  /** Whether {@link Watcher.close} was called (or the runtime closed). */
  readonly closed: boolean;
  /** `false` after a {@link Interest.ONESHOT} event fired, until {@link Watcher.modify} re-arms it. */
  readonly armed: boolean;
  /**
   * Change the interest (and optionally the callback). Also re-arms a fired {@link Interest.ONESHOT}.
   * Events harvested before the change but not yet delivered are dropped.
   * @throws WatcherClosedError after close; InvalidArgumentError for an empty or unknown interest.
   */
  modify(interest: InterestFlags, callback?: WatchCallback): void;
  /** Stop watching. Idempotent. Does not close the descriptor itself: that stays the caller's. */
  close(): void;
  /** Keep the runtime and Node alive while this watcher is open (the default). Returns the watcher. */
  ref(): this;
  /** Do not keep the runtime or Node alive for this watcher. Returns the watcher. */
  unref(): this;
  /** Whether the watcher is ref'd. */
  hasRef(): boolean;
}

/** Options of the promise and iterator forms. */
export interface WaitOptions {
  /** Abort the wait; the promise rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** Options of {@link Runtime.events}. */
export interface EventsOptions extends WaitOptions {
  /**
   * Whether a pending `next()` keeps the runtime and Node alive. Defaults to `true`; an iterator whose consumer
   * is not waiting never keeps anything alive.
   */
  readonly ref?: boolean;
}

/**
 * A timer created by {@link Runtime.setTimeout}, {@link Runtime.setInterval} or {@link Runtime.setImmediate}.
 */
export interface Timer extends Disposable {
  /** Whether the timer is still scheduled. */
  readonly active: boolean;
  /** Cancel the timer; its callback is not called afterwards. Idempotent. */
  cancel(): void;
  /** Keep the runtime and Node alive until this timer fires (the default). Returns the timer. */
  ref(): this;
  /** Do not keep the runtime or Node alive for this timer. Returns the timer. */
  unref(): this;
  /** Whether the timer is ref'd. */
  hasRef(): boolean;
  /**
   * Restart a timeout or interval from now with its original delay (re-scheduling it if it already fired or
   * was cancelled). Has no effect on immediates. Returns the timer.
   */
  refresh(): this;
}

const SLOT_BITS = 22;
/** Watchers per runtime. Tokens are `generation * SLOT_SPACE + slot`, safe integers while generation < 2^31. */
const SLOT_SPACE = 2 ** SLOT_BITS;
const GENERATION_LIMIT = 2 ** 31;
const DEFAULT_BATCH = 1024;
/** Node's own cap for timer delays; longer ones become 1 ms there. We keep the number and re-arm in steps. */
const MAX_NODE_DELAY = 2 ** 31 - 1;

type Settle = (event: ReadyEvent) => void;

class WatcherImpl implements Watcher {
  fd: number;
  interest: InterestFlags;
  callback: WatchCallback;
  closed = false;
  armed = true;
  refd = true;
  slot = -1;
  gen = 0;
  /** Set on internal watchers of promises/iterators, so runtime close can reject them. */
  onCancel: ((error: Error) => void) | undefined;
  /** Set on the slot of an event source, which has no descriptor (see sources/). */
  source = false;
  private readonly rt: Runtime;

  constructor(rt: Runtime, fd: number, interest: InterestFlags, callback: WatchCallback) {
    this.rt = rt;
    this.fd = fd;
    this.interest = interest;
    this.callback = callback;
  }

  modify(interest: InterestFlags, callback?: WatchCallback): void {
    if (this.closed) throw new WatcherClosedError('modify', this.fd);
    if (callback !== undefined && typeof callback !== 'function') {
      throw new InvalidArgumentError('callback', `must be a function, got ${describeReceived(callback)}`);
    }
    this.rt._modify(this, interest);
    if (callback !== undefined) this.callback = callback;
  }

  close(): void {
    if (this.closed) return;
    this.rt._close(this);
  }

  ref(): this {
    if (!this.refd) {
      this.refd = true;
      if (!this.closed) this.rt._refWatcher(1);
    }
    return this;
  }

  unref(): this {
    if (this.refd) {
      this.refd = false;
      if (!this.closed) this.rt._refWatcher(-1);
    }
    return this;
  }

  hasRef(): boolean {
    return this.refd;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The arguments of every timer that has none (never written to). */
const NO_ARGS: unknown[] = [];

const enum TimerKind {
  Timeout,
  Interval,
  Immediate,
}

class TimerImpl implements Timer, QueueEntry {
  due = 0;
  seq = 0;
  qPrev: QueueEntry | null = null;
  qNext: QueueEntry | null = null;
  qList: QueueEntry['qList'] = null;
  active = true;
  refd = true;
  readonly kind: TimerKind;
  readonly delay: number;
  readonly callback: (...args: unknown[]) => void;
  readonly args: unknown[];
  private readonly rt: Runtime;

  constructor(rt: Runtime, kind: TimerKind, delay: number, callback: (...args: unknown[]) => void, args: unknown[]) {
    this.rt = rt;
    this.kind = kind;
    this.delay = delay;
    this.callback = callback;
    this.args = args;
  }

  cancel(): void {
    if (this.active) this.rt._cancelTimer(this);
  }

  ref(): this {
    if (!this.refd) {
      this.refd = true;
      if (this.active) this.rt._refTimer(this, 1);
    }
    return this;
  }

  unref(): this {
    if (this.refd) {
      this.refd = false;
      if (this.active) this.rt._refTimer(this, -1);
    }
    return this;
  }

  hasRef(): boolean {
    return this.refd;
  }

  refresh(): this {
    if (this.kind !== TimerKind.Immediate) this.rt._refreshTimer(this);
    return this;
  }

  [Symbol.dispose](): void {
    this.cancel();
  }
}

/**
 * Validate an interest value against the contract: an integer made only of known bits, with at least one
 * condition (READABLE, WRITABLE, PRIORITY).
 * @throws InvalidArgumentError
 */
export function validateInterest(interest: unknown): InterestFlags {
  if (typeof interest !== 'number' || !Number.isInteger(interest)) {
    throw new InvalidArgumentError('interest', `must be a number made of Interest bits, got ${describeReceived(interest)}`);
  }
  if ((interest & ~(INTEREST_CONDITIONS | INTEREST_MODES)) !== 0 || interest < 0) {
    throw new InvalidArgumentError('interest', `has unknown bits: ${interest}`);
  }
  if ((interest & INTEREST_CONDITIONS) === 0) {
    throw new InvalidArgumentError(
      'interest',
      'must include at least one of Interest.READABLE, Interest.WRITABLE, Interest.PRIORITY (an interest cannot be empty)',
    );
  }
  return interest;
}

/**
 * Validate a descriptor number: a non-negative 32-bit integer.
 * @throws InvalidArgumentError
 */
export function validateFd(fd: unknown): number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new InvalidArgumentError('fd', `must be a non-negative integer file descriptor, got ${describeReceived(fd)}`);
  }
  return fd;
}

function validateDelay(delay: unknown): number {
  if (delay === undefined) return 0;
  if (typeof delay !== 'number' || Number.isNaN(delay) || delay < 0 || delay === Infinity) {
    throw new InvalidArgumentError('delay', `must be a finite number of milliseconds >= 0, got ${describeReceived(delay)}`);
  }
  return delay;
}

function validateCallback(callback: unknown): void {
  if (typeof callback !== 'function') {
    throw new InvalidArgumentError('callback', `must be a function, got ${describeReceived(callback)}`);
  }
}

function defaultOnError(error: unknown): void {
  process.nextTick(() => {
    throw error;
  });
}

/**
 * @internal The one place that decides what a user callback's return value means. A callback may be an `async`
 * function: a returned promise (any thenable) that rejects is reported exactly like an exception the callback
 * threw, to `rt`'s `onError` with the same `context` (or, without a runtime, rethrown on the next tick as
 * `onError`'s default does), never left to become an `unhandledRejection`. Anything else is ignored. Every call
 * site of a user callback (watchers, timers, immediates, sources, ownFd libraries, module callbacks) passes the
 * callback's result here; `context` may be a function so that hot paths build it only when a promise rejects.
 */
export function routeCallbackResult(rt: Runtime | undefined, result: unknown, context: ErrorContext | (() => ErrorContext)): void {
  if (result === undefined || result === null || typeof (result as PromiseLike<unknown>).then !== 'function') return;
  (result as PromiseLike<unknown>).then(undefined, (error: unknown) => {
    if (rt === undefined) defaultOnError(error);
    else rt._report(error, typeof context === 'function' ? context() : context);
  });
}

const TIMER_CONTEXT: ErrorContext = Object.freeze({ source: 'timer' });
const IMMEDIATE_CONTEXT: ErrorContext = Object.freeze({ source: 'immediate' });
const SOURCE_CONTEXT: ErrorContext = Object.freeze({ source: 'source' });

function watcherContext(w: WatcherImpl): ErrorContext {
  return w.source ? SOURCE_CONTEXT : { source: 'watcher', fd: w.fd };
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * The fdloop runtime. Create it with {@link createRuntime}.
 *
 * @example
 * ```ts
 * import { createRuntime, Interest } from '@fdloop/core';
 * import { epoll, sys } from '@fdloop/backend-epoll';
 *
 * const rt = createRuntime({ backend: epoll() });
 * const [r, w] = sys.pipe();
 * await rt.run(async () => {
 *   rt.setTimeout(() => sys.write(w, Buffer.from('hi')), 10);
 *   const ev = await rt.readable(r);
 *   console.log(ev.readable); // true
 * });
 * await rt.close();
 * ```
 */
export class Runtime implements AsyncDisposable {
  /** The backend in use. */
  readonly backend: Backend;
  /** The runtime's name (for traces). */
  readonly name: string;

  private readonly poller: Poller;
  private readonly eventsBuffer: Float64Array;
  private readonly tracer: Tracer;
  private readonly onError: ErrorHandler;
  private readonly nativeOneshot: boolean;

  private readonly slotWatcher: (WatcherImpl | undefined)[] = [];
  private readonly slotGen: number[] = [];
  private readonly freeSlots: number[] = [];
  private readonly byFd = new Map<number, WatcherImpl>();
  private readonly sourceSlots = new Set<WatcherImpl>();

  private refWatchers = 0;
  private pollerRefd = false;
  /** Everything ref'd that keeps `run()` from resolving. */
  private pending = 0;

  private readonly timers = new TimerQueue<TimerImpl>();
  private timerSeq = 0;
  private refTimers = 0;
  private nodeTimer: NodeJS.Timeout | undefined;
  private nodeTimerDue = Infinity;
  private nodeTimerRefd = false;

  private immediates: TimerImpl[] = [];
  private refImmediates = 0;
  private nodeImmediate: NodeJS.Immediate | undefined;

  private isClosed = false;
  private runState: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  private finishCheck: NodeJS.Immediate | undefined;

  /** @internal Use {@link createRuntime}. */
  constructor(backend: Backend, options: RuntimeOptions = {}) {
    this.backend = backend;
    this.name = options.name ?? '';
    this.options = options;
    const batchSize = options.batchSize ?? DEFAULT_BATCH;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 65536) {
      throw new InvalidArgumentError('batchSize', `must be an integer from 1 to 65536, got ${describeReceived(batchSize)}`);
    }
    if (options.onError !== undefined) validateCallback(options.onError);
    this.onError = options.onError ?? defaultOnError;
    const trace = options.trace === undefined ? traceFromEnv() : options.trace === true ? {} : options.trace === false ? undefined : options.trace;
    this.tracer = new Tracer(trace, this.name);
    this.nativeOneshot = backend.capabilities.oneshot;
    this.poller = backend.createPoller({ batchSize, sink: { onEvents: (count) => this.dispatch(count) } });
    this.eventsBuffer = this.poller.events;
    if (this.tracer.enabled) this.tracer.line(`runtime created: backend ${backend.name}, batch size ${batchSize}`);
  }

  /** Whether {@link Runtime.close} was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** How many watchers are open. */
  get watcherCount(): number {
    return this.byFd.size;
  }

  /** How many ref'd things (watchers, timers, immediates, `run()`'s main function) keep the runtime busy. */
  get pendingCount(): number {
    return this.pending;
  }

  private readonly options: RuntimeOptions;

  /**
   * Attach a module (`@fdloop/mod-fs`, `@fdloop/mod-crypto`, your own {@link defineModule}) and return its API
   * for this runtime. Attaching the same module object again returns the same API.
   * @example
   * ```ts
   * import { fsModule } from '@fdloop/mod-fs';
   * const fs = rt.use(fsModule());
   * const text = await fs.readFile('test.txt', 'utf8');
   * ```
   */
  use<API>(module: FdloopModule<API>): API {
    return useModule(this, module, this.options);
  }

  /**
   * The runtime's thread pool (workers `pool-1…N`, see {@link RuntimeOptions.pool}), started on first use and
   * closed with the runtime. Tasks run through it directly are not counted as pending work; modules use
   * {@link ModuleContext.run}, which is.
   */
  get pool(): ThreadPool {
    return runtimePool(this, this.options);
  }

  /**
   * Count one piece of outside work (a pool task, a module operation) as pending, so {@link Runtime.run} does
   * not resolve before the returned release function is called. Release is idempotent and harmless after close.
   * @param what - a label for the trace.
   * @example
   * ```ts
   * const release = rt.hold('my query');
   * query().finally(release);
   * ```
   */
  hold(what = 'work'): () => void {
    this.assertOpen('hold');
    this.pending += 1;
    let held = true;
    if (this.tracer.enabled) this.tracer.line(`hold: ${what}`);
    return () => {
      if (!held) return;
      held = false;
      if (this.isClosed) return;
      this.pending -= 1;
      if (this.tracer.enabled) this.tracer.line(`release: ${what}`);
      this.scheduleFinishCheck();
    };
  }

  /** @internal Whether tracing is on (for modules). */
  get _tracing(): boolean {
    return this.tracer.enabled;
  }

  /** @internal Write a trace line (for modules). */
  _trace(message: string): void {
    this.tracer.line(message);
  }

  /**
   * Throw an {@link UnsupportedError} unless the backend has `capability`.
   * @example
   * ```ts
   * rt.requireCapability('edge');
   * ```
   */
  requireCapability(capability: CapabilityName): void {
    if (!this.backend.capabilities[capability]) throw new UnsupportedError(this.backend.name, capability);
  }

  // Event sources: the implementations live in sources/; these methods only construct them.

  /**
   * A kernel timer (timerfd on Linux): one-shot or periodic, relative (`delay`) or absolute (`at`), on the
   * monotonic, realtime or boottime clock. Each event reports how many expirations happened (more than one when
   * the loop was late). Requires {@link Capabilities.timer}.
   * @param options - when to fire; without `delay`/`at`/`interval` the timer is created disarmed.
   * @param callback - optional; called for every expiration.
   * @throws InvalidArgumentError for NaN, negative or infinite values; UnsupportedError without the capability.
   * @example
   * ```ts
   * const t = rt.timer({ delay: 100, interval: 100 }, (ev) => print(`tick x${ev.expirations}`));
   * await rt.sleep(1000);
   * t.close();
   * ```
   */
  timer(options: KernelTimerOptions = {}, callback?: sources.KernelTimerCallback): KernelTimer {
    this.requireSource('timer');
    return new sources.KernelTimerImpl(this, options, callback);
  }

  /**
   * Subscribe to a signal and receive its details (sender pid and uid, `si_code`, sigqueue value). Requires
   * {@link Capabilities.signal}. While any subscription to a signal is open, fdloop receives every delivery of
   * it and Node's own `process.on(signal)` listeners do not; see the event-sources guide for the rules.
   * @param signal - a name (`'SIGUSR2'`, `'USR2'`) or number.
   * @throws InvalidArgumentError for unknown signals, SIGKILL, SIGSTOP and the fault signals.
   * @example
   * ```ts
   * const sub = rt.signal('SIGUSR2', (ev) => print(`from pid ${ev.pid}`));
   * ```
   */
  signal(signal: string | number, options?: SourceOptions | sources.SignalCallback, callback?: sources.SignalCallback): SignalSource {
    this.requireSource('signal');
    const a = sources.splitArgs<SourceOptions, sources.SignalCallback>(options, callback);
    return new sources.SignalSourceImpl(this, signal, a.options, a.callback);
  }

  /**
   * A cross-thread notifier (eventfd on Linux) with counter or semaphore semantics. Other threads trigger it
   * with `notifyRemote(notifier.remote)`. Requires {@link Capabilities.notifier}.
   * @example
   * ```ts
   * const n = rt.notifier((ev) => print(`woken ${ev.count}x`));
   * new Worker(url, { workerData: { remote: n.remote } });
   * ```
   */
  notifier(options?: NotifierOptions | sources.NotifierCallback, callback?: sources.NotifierCallback): Notifier {
    this.requireSource('notifier');
    const a = sources.splitArgs<NotifierOptions, sources.NotifierCallback>(options, callback);
    return new sources.NotifierImpl(this, a.options, a.callback);
  }

  /**
   * Watch a file or directory (inotify on Linux). Moves inside the watched tree arrive as one `rename` event;
   * a kernel queue overflow arrives as an `overflow` event. Requires {@link Capabilities.pathWatch}.
   * @throws ErrnoError `ENOENT` naming the path; `ENOSPC` naming the watch limit.
   * @example
   * ```ts
   * for await (const ev of rt.watchPath('/tmp/dir')) print(ev.kind, ev.path);
   * ```
   */
  watchPath(path: string, options?: PathWatchOptions | sources.PathWatchCallback, callback?: sources.PathWatchCallback): PathWatcher {
    this.requireSource('pathWatch');
    const a = sources.splitArgs<PathWatchOptions, sources.PathWatchCallback>(options, callback);
    return new sources.PathWatcherImpl(this, path, a.options, a.callback);
  }

  /**
   * Wait for process `pid` to exit without blocking (pidfd on Linux). Reports one event with the exit code or
   * signal when the kernel can tell, then closes itself. Requires {@link Capabilities.processExit}.
   * @throws ErrnoError `ESRCH` when no such process exists.
   * @example
   * ```ts
   * const { code, signal } = await rt.processExit(child.pid).exited;
   * ```
   */
  processExit(pid: number, options?: SourceOptions | sources.ProcessExitCallback, callback?: sources.ProcessExitCallback): ProcessExitSource {
    this.requireSource('processExit');
    const a = sources.splitArgs<SourceOptions, sources.ProcessExitCallback>(options, callback);
    return new sources.ProcessExitImpl(this, pid, a.options, a.callback);
  }

  /** Refuse a source the backend lacks before looking at the arguments, so the answer does not depend on them. */
  private requireSource(kind: SourceKind): void {
    this.assertOpen(kind);
    if (!this.backend.capabilities[kind] || this.poller.addSource === undefined) throw new UnsupportedError(this.backend.name, kind);
  }

  /** @internal Event sources (see sources/base.ts): a slab slot without a descriptor, reported via `onReport`. */
  _addSource<K extends SourceKind>(
    spec: SourceSpecs[K],
    onReport: (event: ReadyEvent) => void,
    onCancel: (error: Error) => void,
  ): { watcher: Watcher; handle: SourceHandles[K] } {
    this.requireSource(spec.kind);
    const addSource = this.poller.addSource as NonNullable<Poller['addSource']>;
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.slotWatcher.length >= SLOT_SPACE) throw new TooManyWatchersError(SLOT_SPACE);
      slot = this.slotWatcher.length;
      this.slotWatcher.push(undefined);
      this.slotGen.push(0);
    }
    const gen = this.slotGen[slot] as number;
    let handle: SourceHandles[K];
    try {
      handle = addSource.call(this.poller, spec, gen * SLOT_SPACE + slot) as SourceHandles[K];
    } catch (err) {
      this.freeSlots.push(slot);
      throw err;
    }
    const w = new WatcherImpl(this, -1, Interest.READABLE, (ev) => onReport(ev));
    w.slot = slot;
    w.gen = gen;
    w.source = true;
    w.onCancel = onCancel;
    this.slotWatcher[slot] = w;
    this.sourceSlots.add(w);
    this._refWatcher(1);
    if (this.tracer.enabled) this.tracer.line(`source ${spec.kind} opened`);
    return { watcher: w, handle };
  }

  /**
   * Watch `fd` for `interest` and call `callback` with each {@link ReadyEvent}. One descriptor has at most one
   * watcher per runtime; use {@link Watcher.modify} to change what it waits for.
   *
   * The descriptor stays the caller's: close the watcher before closing the descriptor (a descriptor closed
   * while watched is dropped by the kernel, and its number may be reused by the next `open`).
   *
   * @param fd - a pollable descriptor (pipe, socket, tty, eventfd, timerfd, inotify…). Regular files are not
   *   pollable under epoll and fail with `EPERM`.
   * @param interest - {@link Interest} bits; at least one of READABLE, WRITABLE, PRIORITY.
   * @param callback - called with the event and the watcher; exceptions (and rejections of the promise an `async`
   *   callback returns) go to {@link RuntimeOptions.onError}.
   * @throws InvalidArgumentError, AlreadyWatchedError, UnsupportedError, RuntimeClosedError, or an
   *   {@link ErrnoError} from the backend (`EBADF`, `EPERM`…).
   *
   * @example
   * ```ts
   * const w = rt.watch(fd, Interest.READABLE, (ev) => {
   *   if (ev.readable) drain(fd);
   *   if (ev.hangup) w.close();
   * });
   * ```
   */
  watch(fd: number, interest: InterestFlags, callback: WatchCallback): Watcher {
    this.assertOpen('watch');
    validateFd(fd);
    validateInterest(interest);
    validateCallback(callback);
    return this.addWatcher(fd, interest, callback, undefined);
  }

  /**
   * Wait until `fd` is readable. Resolves with the {@link ReadyEvent} (which may also report hang-up or
   * error). Rejects with `signal.reason` when aborted, with a {@link CancelledError} when the runtime closes,
   * and synchronously-validated input errors as rejections.
   *
   * @example
   * ```ts
   * await rt.readable(fd, { signal: AbortSignal.timeout(1000) });
   * ```
   */
  readable(fd: number, options: WaitOptions = {}): Promise<ReadyEvent> {
    return this.waitFor(fd, Interest.READABLE, options);
  }

  /** Wait until `fd` is writable. Same rules as {@link Runtime.readable}. */
  writable(fd: number, options: WaitOptions = {}): Promise<ReadyEvent> {
    return this.waitFor(fd, Interest.WRITABLE, options);
  }

  /**
   * Wait once for any {@link Interest} on `fd`. Same rules as {@link Runtime.readable}.
   * @example
   * ```ts
   * const ev = await rt.wait(fd, Interest.READABLE | Interest.PRIORITY);
   * ```
   */
  wait(fd: number, interest: InterestFlags, options: WaitOptions = {}): Promise<ReadyEvent> {
    return this.waitFor(fd, interest, options);
  }

  private waitFor(fd: number, interest: InterestFlags, options: WaitOptions): Promise<ReadyEvent> {
    return new Promise<ReadyEvent>((resolve, reject) => {
      try {
        this.assertOpen('wait');
        validateFd(fd);
        validateInterest(interest);
      } catch (err) {
        reject(err);
        return;
      }
      const signal = options.signal;
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      let removeAbort: (() => void) | undefined;
      const settle: Settle = (event) => {
        removeAbort?.();
        watcher.close();
        resolve(event);
      };
      let watcher: WatcherImpl;
      try {
        watcher = this.addWatcher(fd, (interest | Interest.ONESHOT) & ~Interest.EDGE, (ev) => settle(ev), (error) => {
          removeAbort?.();
          reject(error);
        });
      } catch (err) {
        reject(err);
        return;
      }
      if (signal !== undefined) {
        const onAbort = (): void => {
          watcher.onCancel = undefined;
          watcher.close();
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        removeAbort = () => signal.removeEventListener('abort', onAbort);
      }
    });
  }

  /**
   * An async iterator of events on `fd`. It delivers one event per `next()`: the registration is re-armed only
   * when the consumer asks for the next event, so a slow consumer is never flooded and a level-triggered
   * readable descriptor does not spin the loop. Breaking out of `for await` (or `return()`) closes the watcher.
   *
   * @example
   * ```ts
   * for await (const ev of rt.events(fd, Interest.READABLE)) {
   *   const n = sys.read(fd, buf);
   *   if (n === 0) break; // end of file
   * }
   * ```
   */
  events(fd: number, interest: InterestFlags = Interest.READABLE, options: EventsOptions = {}): AsyncIterableIterator<ReadyEvent> & AsyncDisposable {
    this.assertOpen('events');
    validateFd(fd);
    validateInterest(interest);
    const signal = options.signal;
    const keepAlive = options.ref ?? true;
    const stored: ReadyEvent[] = [];
    let waiting: { resolve: (r: IteratorResult<ReadyEvent>) => void; reject: (e: unknown) => void } | undefined;
    let failure: unknown;
    let done = false;
    const mode = interest | Interest.ONESHOT;
    const watcher = this.addWatcher(
      fd,
      mode,
      (ev) => {
        if (waiting !== undefined) {
          const w = waiting;
          waiting = undefined;
          watcher.unref();
          w.resolve({ value: ev, done: false });
        } else {
          stored.push(ev);
        }
      },
      (error) => {
        failure = error;
        finish();
      },
    );
    watcher.unref();
    const finish = (): void => {
      if (done) return;
      done = true;
      removeAbort?.();
      watcher.onCancel = undefined;
      watcher.close();
      if (waiting !== undefined) {
        // The failure is reported once, to the pending next(); later calls see a finished iterator.
        const w = waiting;
        const f = failure;
        waiting = undefined;
        failure = undefined;
        if (f !== undefined) w.reject(f);
        else w.resolve({ value: undefined, done: true });
      }
    };
    let removeAbort: (() => void) | undefined;
    if (signal !== undefined) {
      if (signal.aborted) {
        failure = abortReason(signal);
        finish();
      } else {
        const onAbort = (): void => {
          failure = abortReason(signal);
          finish();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        removeAbort = () => signal.removeEventListener('abort', onAbort);
      }
    }
    const iterator: AsyncIterableIterator<ReadyEvent> & AsyncDisposable = {
      next: (): Promise<IteratorResult<ReadyEvent>> => {
        if (done) {
          if (failure !== undefined) {
            const f = failure;
            failure = undefined;
            return Promise.reject(f);
          }
          return Promise.resolve({ value: undefined, done: true });
        }
        const ev = stored.shift();
        if (ev !== undefined) return Promise.resolve({ value: ev, done: false });
        if (waiting !== undefined) {
          return Promise.reject(new InvalidArgumentError('next', 'the previous next() of this iterator has not settled yet'));
        }
        if (!watcher.armed) {
          try {
            this._modify(watcher, mode);
          } catch (err) {
            failure = err;
            finish();
            const f = failure;
            failure = undefined;
            return Promise.reject(f);
          }
        }
        return new Promise((resolve, reject) => {
          waiting = { resolve, reject };
          if (keepAlive) watcher.ref();
        });
      },
      return: (): Promise<IteratorResult<ReadyEvent>> => {
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
      [Symbol.asyncDispose]: async () => {
        finish();
      },
    };
    return iterator;
  }

  /**
   * Call `callback(...args)` once after `delay` milliseconds.
   * @param delay - milliseconds, a finite number >= 0. Defaults to `0`.
   * @example
   * ```ts
   * const t = rt.setTimeout(() => print('later'), 500);
   * t.cancel();
   * ```
   */
  setTimeout<A extends unknown[]>(callback: (...args: A) => void, delay = 0, ...args: A): Timer {
    return this.addTimer(TimerKind.Timeout, callback as (...a: unknown[]) => void, delay, args);
  }

  /**
   * Call `callback(...args)` every `delay` milliseconds until cancelled. Intervals keep their schedule
   * (`due += delay`) and skip ahead rather than firing a burst when the loop was blocked.
   * @param delay - milliseconds, a finite number >= 0 (0 is treated as 1, as in Node). Defaults to `0`.
   */
  setInterval<A extends unknown[]>(callback: (...args: A) => void, delay = 0, ...args: A): Timer {
    return this.addTimer(TimerKind.Interval, callback as (...a: unknown[]) => void, delay, args);
  }

  /** Call `callback(...args)` in the next check phase of the loop, after I/O. */
  setImmediate<A extends unknown[]>(callback: (...args: A) => void, ...args: A): Timer {
    return this.addTimer(TimerKind.Immediate, callback as (...a: unknown[]) => void, 0, args);
  }

  /**
   * Resolve after `delay` milliseconds. Rejects with `signal.reason` when aborted and a
   * {@link CancelledError} when the runtime closes.
   * @example
   * ```ts
   * await rt.sleep(100, { signal });
   * ```
   */
  sleep(delay: number, options: WaitOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const signal = options.signal;
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      let timer: TimerImpl;
      try {
        timer = this.addTimer(TimerKind.Timeout, () => {
          removeAbort?.();
          resolve();
        }, delay, []);
      } catch (err) {
        reject(err);
        return;
      }
      this.sleepers.set(timer, (error) => {
        removeAbort?.();
        reject(error);
      });
      let removeAbort: (() => void) | undefined;
      if (signal !== undefined) {
        const onAbort = (): void => {
          timer.cancel();
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        removeAbort = () => signal.removeEventListener('abort', onAbort);
      }
    });
  }

  private readonly sleepers = new Map<TimerImpl, (error: Error) => void>();

  /**
   * Run `main` (if given) and resolve when nothing ref'd is pending any more: no ref'd watcher, timer or
   * immediate, and `main`'s promise settled. Unref'd handles do not count. Rejects if `main` throws or rejects.
   * The runtime stays usable afterwards; `run()` may be called again.
   *
   * @example
   * ```ts
   * await rt.run(async () => {
   *   rt.setTimeout(() => print('one second later'), 1000);
   * });
   * print('FINISHED');
   * ```
   */
  run(main?: () => unknown): Promise<void> {
    if (this.isClosed) return Promise.reject(new RuntimeClosedError('run'));
    if (this.runState !== undefined) return Promise.reject(new AlreadyRunningError());
    return new Promise<void>((resolve, reject) => {
      this.runState = {
        resolve: () => {
          this.runState = undefined;
          if (this.tracer.enabled) this.tracer.line('run finished: nothing pending');
          resolve();
        },
        reject: (e) => {
          this.runState = undefined;
          reject(e);
        },
      };
      if (this.tracer.enabled) this.tracer.line('run started');
      if (main === undefined) {
        this.scheduleFinishCheck();
        return;
      }
      this.pending += 1;
      let result: unknown;
      try {
        result = main();
      } catch (err) {
        this.pending -= 1;
        this.runState.reject(err);
        return;
      }
      Promise.resolve(result).then(
        () => {
          this.pending -= 1;
          this.scheduleFinishCheck();
        },
        (err: unknown) => {
          this.pending -= 1;
          this.runState?.reject(err);
        },
      );
    });
  }

  /**
   * Close the runtime: every watcher is closed (its callback never called again), timers are cancelled,
   * pending promises and iterators reject with a {@link CancelledError}, the backend's poller is released, and a
   * `run()` in progress resolves. Idempotent. Calls after close throw {@link RuntimeClosedError}.
   * Descriptors stay the caller's to close.
   */
  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    this.isClosed = true;
    if (this.tracer.enabled) this.tracer.line(`runtime closing: ${this.byFd.size} watcher(s), ${this.timers.size + this.immediates.length} timer(s)`);
    const cancelled = new CancelledError();
    let closeError: unknown;
    for (const w of [...this.byFd.values(), ...this.sourceSlots]) {
      const onCancel = w.onCancel;
      w.onCancel = undefined;
      try {
        this._close(w);
      } catch (err) {
        closeError ??= err;
      }
      onCancel?.(cancelled);
    }
    for (const t of this.timers.clear()) {
      t.active = false;
      this.sleepers.get(t)?.(cancelled);
    }
    for (const t of this.immediates) t.active = false;
    this.immediates = [];
    this.sleepers.clear();
    if (this.nodeTimer !== undefined) clearTimeout(this.nodeTimer);
    if (this.nodeImmediate !== undefined) clearImmediate(this.nodeImmediate);
    if (this.finishCheck !== undefined) clearImmediate(this.finishCheck);
    this.nodeTimer = undefined;
    this.nodeImmediate = undefined;
    this.finishCheck = undefined;
    this.refTimers = 0;
    this.refImmediates = 0;
    this.pending = 0;
    this.poller.close();
    this.runState?.resolve();
    const modulesClosed = closeModules(this, (err) => this._report(err, { source: 'module' }));
    return modulesClosed.then(() => (closeError === undefined ? undefined : Promise.reject(closeError)));
  }

  /** Same as {@link Runtime.close}, for `await using rt = createRuntime()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Watchers

  private assertOpen(operation: string): void {
    if (this.isClosed) throw new RuntimeClosedError(operation);
  }

  private addWatcher(fd: number, interest: InterestFlags, callback: WatchCallback, onCancel: ((error: Error) => void) | undefined): WatcherImpl {
    const caps = this.backend.capabilities;
    if (interest & Interest.EDGE && !caps.edge) throw new UnsupportedError(this.backend.name, 'edge-triggered interest (Interest.EDGE)');
    if (interest & Interest.PRIORITY && !caps.priority) throw new UnsupportedError(this.backend.name, 'priority interest (Interest.PRIORITY)');
    if (this.byFd.has(fd)) throw new AlreadyWatchedError(fd);
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.slotWatcher.length >= SLOT_SPACE) throw new TooManyWatchersError(SLOT_SPACE);
      slot = this.slotWatcher.length;
      this.slotWatcher.push(undefined);
      this.slotGen.push(0);
    }
    const gen = this.slotGen[slot] as number;
    const w = new WatcherImpl(this, fd, interest, callback);
    w.slot = slot;
    w.gen = gen;
    w.onCancel = onCancel;
    try {
      this.poller.register(fd, gen * SLOT_SPACE + slot, this.kernelInterest(interest));
    } catch (err) {
      this.freeSlots.push(slot);
      throw err;
    }
    this.slotWatcher[slot] = w;
    this.byFd.set(fd, w);
    this._refWatcher(1);
    if (this.tracer.enabled) this.tracer.line(`watch fd ${fd} ${describeInterest(interest)}`);
    return w;
  }

  /** The interest handed to the backend: ONESHOT is emulated by the runtime where the backend lacks it. */
  private kernelInterest(interest: InterestFlags): InterestFlags {
    return this.nativeOneshot ? interest : interest & ~Interest.ONESHOT;
  }

  /** @internal */
  _modify(w: WatcherImpl, interest: InterestFlags): void {
    this.assertOpen('modify');
    validateInterest(interest);
    const caps = this.backend.capabilities;
    if (interest & Interest.EDGE && !caps.edge) throw new UnsupportedError(this.backend.name, 'edge-triggered interest (Interest.EDGE)');
    if (interest & Interest.PRIORITY && !caps.priority) throw new UnsupportedError(this.backend.name, 'priority interest (Interest.PRIORITY)');
    const slot = w.slot;
    const gen = this.bumpGeneration(slot);
    const token = gen * SLOT_SPACE + slot;
    // A new generation makes events harvested under the old interest stale, so they are dropped.
    if (!this.nativeOneshot && !w.armed) this.poller.register(w.fd, token, this.kernelInterest(interest));
    else this.poller.reregister(w.fd, token, this.kernelInterest(interest));
    w.gen = gen;
    w.interest = interest;
    w.armed = true;
    if (this.tracer.enabled) this.tracer.line(`modify fd ${w.fd} ${describeInterest(interest)}`);
  }

  private bumpGeneration(slot: number): number {
    let gen = (this.slotGen[slot] as number) + 1;
    if (gen >= GENERATION_LIMIT) gen = 0;
    this.slotGen[slot] = gen;
    return gen;
  }

  /** @internal */
  _close(w: WatcherImpl): void {
    w.closed = true;
    const slot = w.slot;
    this.slotWatcher[slot] = undefined;
    this.bumpGeneration(slot);
    this.freeSlots.push(slot);
    if (w.source) this.sourceSlots.delete(w);
    else this.byFd.delete(w.fd);
    if (w.refd) this._refWatcher(-1);
    if (this.tracer.enabled) this.tracer.line(`close watcher fd ${w.fd}`);
    if (w.source || (!this.nativeOneshot && !w.armed)) return;
    try {
      this.poller.deregister(w.fd);
    } catch (err) {
      // EBADF: the caller closed the descriptor before the watcher, and the kernel already dropped it.
      // ENOENT: the same, and the number was reused by a descriptor this poller does not watch.
      // EPERM: the same, and the number was reused (by any thread: descriptors are per process) by a regular file,
      // which epoll refuses outright.
      // Either way the registration is gone, which is what close() wants.
      if (err instanceof ErrnoError && (err.code === 'EBADF' || err.code === 'ENOENT' || err.code === 'EPERM')) return;
      throw err;
    }
  }

  /** @internal */
  _refWatcher(delta: number): void {
    this.refWatchers += delta;
    this.pending += delta;
    const want = this.refWatchers > 0;
    if (want !== this.pollerRefd && !this.isClosed) {
      this.pollerRefd = want;
      if (want) this.poller.ref();
      else this.poller.unref();
    }
    if (delta < 0) this.scheduleFinishCheck();
  }

  private dispatch(count: number): void {
    if (this.isClosed) return;
    beginTick();
    try {
      this.dispatchEvents(count);
    } finally {
      endTick();
    }
  }

  private dispatchEvents(count: number): void {
    if (count < 0) {
      if (this.tracer.enabled) this.tracer.marker('poller failure');
      this._report(errnoError(count, `${this.backend.name} poller`, { message: `backend ${this.backend.name} poller failed` }), { source: 'poller' });
      return;
    }
    const tracing = this.tracer.enabled;
    if (tracing) this.tracer.marker(`poll: ${count} event${count === 1 ? '' : 's'}`);
    const buf = this.eventsBuffer;
    const slots = this.slotWatcher;
    for (let i = 0; i < count; i++) {
      const token = buf[2 * i] as number;
      const flags = buf[2 * i + 1] as number;
      const gen = Math.floor(token / SLOT_SPACE);
      const w = slots[token - gen * SLOT_SPACE];
      // Stale: the watcher closed or changed interest after the kernel reported this event (maybe earlier in
      // this very batch), possibly with the fd number already reused by a new watcher in the same slot.
      if (w === undefined || w.gen !== gen) {
        if (tracing) this.tracer.line(`drop stale event (token ${token})`);
        continue;
      }
      if (w.interest & Interest.ONESHOT) {
        w.armed = false;
        if (!this.nativeOneshot) this.emulatedDisarm(w);
      }
      const event = new ReadyEvent(w.fd, flags);
      if (tracing) this.tracer.line(`event ${event.toString()}`);
      try {
        const result = w.callback(event, w) as unknown;
        if (result !== undefined) routeCallbackResult(this, result, () => watcherContext(w));
      } catch (err) {
        this._report(err, watcherContext(w));
      }
      if (this.isClosed) return;
    }
  }

  private emulatedDisarm(w: WatcherImpl): void {
    try {
      this.poller.deregister(w.fd);
    } catch (err) {
      this._report(err, { source: 'poller', fd: w.fd });
    }
  }

  /** @internal Hand a callback's error to `onError` (a throwing handler's error is rethrown on the next tick). */
  _report(error: unknown, context: ErrorContext): void {
    if (this.tracer.enabled) this.tracer.line(`error from ${context.source}${context.fd !== undefined ? ` fd ${context.fd}` : ''}: ${String(error)}`);
    try {
      this.onError(error, context);
    } catch (handlerError) {
      defaultOnError(handlerError);
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Timers

  private addTimer(kind: TimerKind, callback: (...args: unknown[]) => void, delay: unknown, args: unknown[]): TimerImpl {
    this.assertOpen(kind === TimerKind.Immediate ? 'setImmediate' : kind === TimerKind.Interval ? 'setInterval' : 'setTimeout');
    validateCallback(callback);
    let ms = validateDelay(delay);
    if (kind === TimerKind.Interval && ms < 1) ms = 1;
    // A timer without extra arguments shares one empty array: a million pending timers then keep a million fewer
    // objects alive through every scavenge (P7a in docs/benchmarks.md).
    const t = new TimerImpl(this, kind, ms, callback, args.length === 0 ? NO_ARGS : args);
    this.pending += 1;
    if (kind === TimerKind.Immediate) {
      this.immediates.push(t);
      this.refImmediates += 1;
      this.armImmediate();
    } else {
      t.due = performance.now() + ms;
      t.seq = this.timerSeq++;
      this.timers.push(t);
      this.refTimers += 1;
      this.armNodeTimer();
    }
    if (this.tracer.enabled) this.tracer.line(`${kind === TimerKind.Immediate ? 'immediate' : kind === TimerKind.Interval ? `interval ${ms} ms` : `timeout ${ms} ms`} scheduled`);
    return t;
  }

  /** @internal */
  _cancelTimer(t: TimerImpl): void {
    t.active = false;
    this.sleepers.delete(t);
    if (t.kind === TimerKind.Immediate) {
      const i = this.immediates.indexOf(t);
      if (i >= 0) this.immediates.splice(i, 1);
      if (t.refd) this.refImmediates -= 1;
      this.armImmediate();
    } else {
      this.timers.remove(t);
      if (t.refd) this.refTimers -= 1;
      this.armNodeTimer();
    }
    if (t.refd) {
      this.pending -= 1;
      this.scheduleFinishCheck();
    }
  }

  /** @internal */
  _refTimer(t: TimerImpl, delta: number): void {
    this.pending += delta;
    if (t.kind === TimerKind.Immediate) {
      this.refImmediates += delta;
      this.armImmediate();
    } else {
      this.refTimers += delta;
      this.armNodeTimer();
    }
    if (delta < 0) this.scheduleFinishCheck();
  }

  /** @internal */
  _refreshTimer(t: TimerImpl): void {
    this.assertOpen('refresh');
    if (t.active) {
      this.timers.remove(t);
    } else {
      t.active = true;
      if (t.refd) {
        this.pending += 1;
        this.refTimers += 1;
      }
    }
    t.due = performance.now() + t.delay;
    t.seq = this.timerSeq++;
    this.timers.push(t);
    this.armNodeTimer();
  }

  private armNodeTimer(): void {
    if (this.isClosed) return;
    const next = this.timers.peek();
    if (next === undefined) {
      if (this.nodeTimer !== undefined) {
        clearTimeout(this.nodeTimer);
        this.nodeTimer = undefined;
        this.nodeTimerDue = Infinity;
      }
      return;
    }
    const wantRef = this.refTimers > 0;
    if (this.nodeTimer === undefined || next.due < this.nodeTimerDue) {
      if (this.nodeTimer !== undefined) clearTimeout(this.nodeTimer);
      const delay = Math.min(MAX_NODE_DELAY, Math.max(0, Math.ceil(next.due - performance.now())));
      this.nodeTimer = setTimeout(this.onNodeTimer, delay);
      this.nodeTimerDue = next.due;
      this.nodeTimerRefd = true;
    }
    if (wantRef !== this.nodeTimerRefd) {
      this.nodeTimerRefd = wantRef;
      if (wantRef) this.nodeTimer.ref();
      else this.nodeTimer.unref();
    }
  }

  private readonly onNodeTimer = (): void => {
    this.nodeTimer = undefined;
    this.nodeTimerDue = Infinity;
    if (this.isClosed) return;
    const now = performance.now();
    const first = this.timers.peek();
    if (first !== undefined && first.due <= now) {
      beginTick();
      try {
        const tracing = this.tracer.enabled;
        if (tracing) this.tracer.marker('timers');
        // Timers scheduled by callbacks of this round fire in a later round even when already due, as in Node.
        const limit = this.timerSeq;
        for (;;) {
          const t = this.timers.peek();
          if (t === undefined || t.due > now || t.seq >= limit) break;
          this.timers.pop();
          this.fireTimer(t, now);
          if (this.isClosed) return;
        }
      } finally {
        endTick();
      }
    }
    this.armNodeTimer();
  };

  private fireTimer(t: TimerImpl, now: number): void {
    if (t.kind === TimerKind.Interval) {
      let due = t.due + t.delay;
      if (due <= now) due = now + t.delay - ((now - t.due) % t.delay);
      t.due = due;
      t.seq = this.timerSeq++;
      this.timers.push(t);
    } else {
      t.active = false;
      this.sleepers.delete(t);
      if (t.refd) {
        this.refTimers -= 1;
        this.pending -= 1;
        this.scheduleFinishCheck();
      }
    }
    if (this.tracer.enabled) this.tracer.line(`${t.kind === TimerKind.Interval ? 'interval' : 'timeout'} ${t.delay} ms fired`);
    try {
      const result = (t.args.length === 0 ? t.callback() : t.callback(...t.args)) as unknown;
      if (result !== undefined) routeCallbackResult(this, result, TIMER_CONTEXT);
    } catch (err) {
      this._report(err, TIMER_CONTEXT);
    }
  }

  private armImmediate(): void {
    if (this.isClosed) return;
    if (this.immediates.length === 0) {
      if (this.nodeImmediate !== undefined) {
        clearImmediate(this.nodeImmediate);
        this.nodeImmediate = undefined;
      }
      return;
    }
    if (this.nodeImmediate === undefined) this.nodeImmediate = setImmediate(this.onNodeImmediate);
    if (this.refImmediates > 0) this.nodeImmediate.ref();
    else this.nodeImmediate.unref();
  }

  private readonly onNodeImmediate = (): void => {
    this.nodeImmediate = undefined;
    if (this.isClosed) return;
    const batch = this.immediates;
    this.immediates = [];
    beginTick();
    try {
      if (this.tracer.enabled) this.tracer.marker(`immediates: ${batch.length}`);
      for (const t of batch) {
        if (!t.active) continue;
        t.active = false;
        if (t.refd) {
          this.refImmediates -= 1;
          this.pending -= 1;
          this.scheduleFinishCheck();
        }
        try {
          const result = (t.args.length === 0 ? t.callback() : t.callback(...t.args)) as unknown;
          if (result !== undefined) routeCallbackResult(this, result, IMMEDIATE_CONTEXT);
        } catch (err) {
          this._report(err, IMMEDIATE_CONTEXT);
        }
        if (this.isClosed) return;
      }
    } finally {
      endTick();
    }
    this.armImmediate();
  };

  // ---------------------------------------------------------------------------------------------------------
  // Run until finished

  /**
   * The pending count can touch zero in the middle of a callback that closes one watcher and opens another, so
   * the check runs in a later check phase, after every callback and microtask of the current turn.
   */
  private scheduleFinishCheck(): void {
    if (this.runState === undefined || this.pending > 0 || this.finishCheck !== undefined) return;
    this.finishCheck = setImmediate(() => {
      this.finishCheck = undefined;
      if (this.runState !== undefined && this.pending === 0) this.runState.resolve();
    });
  }
}

/**
 * Create a runtime.
 *
 * @param options - see {@link RuntimeOptions}; all optional. Without `backend`, the platform's backend is
 *   loaded from the installed packages (`@fdloop/backend-epoll` on Linux), or a {@link NoBackendError} says what
 *   to install.
 *
 * @example
 * ```ts
 * import { createRuntime, Interest } from '@fdloop/core';
 * import { epoll } from '@fdloop/backend-epoll';
 *
 * const rt = createRuntime({ backend: epoll(), trace: true });
 * const w = rt.watch(fd, Interest.READABLE, (ev) => console.log(ev.toString()));
 * ```
 */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', `must be an object, got ${describeReceived(options)}`);
  }
  return new Runtime(resolveBackend(options.backend), options);
}
