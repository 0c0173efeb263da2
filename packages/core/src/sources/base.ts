/**
 * The runtime side shared by every event source: the slab registration, the event queue, callbacks, promises,
 * iterators, AbortSignal and keep-alive. Kind-specific code (timer.ts, signal.ts…) only decodes records.
 *
 * @module
 */

import type { LoopSource, SourceHandle, SourceHandles, SourceKind, SourceOptions, SourceSpecs, SourceWaitOptions } from '../contract/sources.js';
import { CancelledError, InvalidArgumentError, describeReceived } from '../errors.js';
import { routeCallbackResult, type ErrorContext, type ReadyEvent, type Runtime, type Watcher } from '../runtime.js';

/** What the runtime offers the sources layer (implemented by `Runtime._addSource`). */
export interface SourceHost {
  _addSource<K extends SourceKind>(
    spec: SourceSpecs[K],
    onReport: (event: ReadyEvent) => void,
    onCancel: (error: Error) => void,
  ): { watcher: Watcher; handle: SourceHandles[K] };
}

const DEFAULT_HIGH_WATER_MARK = 1024;

const SOURCE_CONTEXT: ErrorContext = Object.freeze({ source: 'source' });

interface Puller<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: unknown): void;
  /** Iterators end (`done`) on a plain close; `once()` promises reject. */
  readonly iterator: boolean;
}

/** @internal Shared validation of {@link SourceOptions}. */
export function validateSourceOptions(options: unknown): SourceOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('options', `must be an object, got ${describeReceived(options)}`);
  }
  const o = options as SourceOptions;
  if (o.highWaterMark !== undefined && (!Number.isInteger(o.highWaterMark) || o.highWaterMark < 1)) {
    throw new InvalidArgumentError('highWaterMark', `must be a positive integer, got ${describeReceived(o.highWaterMark)}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal', 'must be an AbortSignal');
  }
  return o;
}

/** @internal Split the `(optionsOrCallback, callback)` arguments of the `rt.<source>()` methods. */
export function splitArgs<O extends object, C extends (...args: never[]) => void>(
  optionsOrCallback: O | C | undefined,
  callback: C | undefined,
): { options: O | undefined; callback: C | undefined } {
  if (typeof optionsOrCallback === 'function') {
    if (callback !== undefined) throw new InvalidArgumentError('callback', 'given twice');
    return { options: undefined, callback: optionsOrCallback as C };
  }
  if (callback !== undefined && typeof callback !== 'function') {
    throw new InvalidArgumentError('callback', `must be a function, got ${describeReceived(callback)}`);
  }
  return { options: optionsOrCallback as O | undefined, callback };
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * @internal The base of every source object. `R` is the backend record type, `T` the user event type.
 */
export abstract class SourceBase<K extends SourceKind, R, T> implements LoopSource<T> {
  readonly kind: K;
  protected readonly handle: SourceHandles[K];
  private readonly rt: Runtime;
  private readonly watcher: Watcher;
  private readonly callback: ((event: T, source: never) => void) | undefined;
  private readonly highWaterMark: number;
  private readonly buffer: T[] = [];
  private readonly pullers: Puller<T>[] = [];
  private paused = false;
  private isClosed = false;
  private userRef: boolean;
  private active = true;
  private closeReason: unknown;
  private removeAbort: (() => void) | undefined;

  protected constructor(
    rt: Runtime,
    spec: SourceSpecs[K],
    options: SourceOptions,
    callback: ((event: T, source: never) => void) | undefined,
  ) {
    if (callback !== undefined && typeof callback !== 'function') {
      throw new InvalidArgumentError('callback', `must be a function, got ${describeReceived(callback)}`);
    }
    const signal = options.signal;
    if (signal?.aborted) throw abortReason(signal);
    this.kind = spec.kind as K;
    this.rt = rt;
    this.callback = callback;
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.userRef = options.ref ?? true;
    const opened = (rt as unknown as SourceHost)._addSource(spec, (ev) => this.onReport(ev), (error) => this.finish(error, true));
    this.watcher = opened.watcher;
    this.handle = opened.handle;
    this.syncRef();
    if (signal !== undefined) {
      const onAbort = (): void => this.finish(abortReason(signal), false);
      signal.addEventListener('abort', onAbort, { once: true });
      this.removeAbort = () => signal.removeEventListener('abort', onAbort);
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Turn the records of one read into user events (may join or drop records). */
  protected abstract decode(records: R[]): T[];

  /** Called after the events of one report were delivered (a one-shot source closes itself here). */
  protected afterDelivery(): void {}

  /** Whether the source currently counts as pending work (a disarmed timer does not). */
  protected setActive(active: boolean): void {
    this.active = active;
    this.syncRef();
  }

  private syncRef(): void {
    if (this.isClosed) return;
    if (this.userRef && this.active) this.watcher.ref();
    else this.watcher.unref();
  }

  private onReport(_event: ReadyEvent): void {
    if (this.isClosed) return;
    const records = (this.handle as SourceHandle<R>).read();
    if (records.length === 0) return;
    const events = this.decode(records);
    let firstError: unknown;
    let failed = false;
    for (const ev of events) {
      if (this.isClosed) break;
      try {
        this.deliver(ev);
      } catch (err) {
        if (!failed) {
          failed = true;
          firstError = err;
        }
      }
    }
    if (!this.isClosed) this.afterDelivery();
    // The runtime reports a callback's exception to its onError handler; the other events were delivered first.
    if (failed) throw firstError;
  }

  /** Deliver one event (also used by kinds that synthesize events, such as recursive path watching). */
  protected deliver(ev: T): void {
    const puller = this.pullers.shift();
    if (puller !== undefined) puller.resolve({ value: ev, done: false });
    else if (this.callback === undefined) {
      this.buffer.push(ev);
      if (this.buffer.length >= this.highWaterMark && !this.paused) {
        this.paused = true;
        (this.handle as SourceHandle<R>).pause();
      }
    }
    if (this.callback !== undefined) {
      const result = this.callback(ev, this as never) as unknown;
      if (result !== undefined) routeCallbackResult(this.rt, result, SOURCE_CONTEXT);
    }
  }

  private take(): T | undefined {
    const ev = this.buffer.shift();
    if (ev !== undefined && this.paused && this.buffer.length < this.highWaterMark && !this.isClosed) {
      this.paused = false;
      (this.handle as SourceHandle<R>).resume();
    }
    return ev;
  }

  private pull(iterator: boolean, options: SourceWaitOptions | undefined): Promise<IteratorResult<T>> {
    const ev = this.take();
    if (ev !== undefined) return Promise.resolve({ value: ev, done: false });
    if (this.isClosed) {
      if (iterator && this.closeReason === undefined) return Promise.resolve({ value: undefined, done: true });
      return Promise.reject(this.closeReason ?? new CancelledError(`the ${this.kind} source is closed`));
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      let remove: (() => void) | undefined;
      const puller: Puller<T> = {
        iterator,
        resolve: (r) => {
          remove?.();
          resolve(r);
        },
        reject: (e) => {
          remove?.();
          reject(e);
        },
      };
      this.pullers.push(puller);
      if (signal !== undefined) {
        const onAbort = (): void => {
          const i = this.pullers.indexOf(puller);
          if (i >= 0) this.pullers.splice(i, 1);
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        remove = () => signal.removeEventListener('abort', onAbort);
      }
    });
  }

  once(options?: SourceWaitOptions): Promise<T> {
    return this.pull(false, options).then((r) => r.value as T);
  }

  events(options?: SourceWaitOptions): AsyncIterableIterator<T> {
    let done = false;
    const iterator: AsyncIterableIterator<T> = {
      next: (): Promise<IteratorResult<T>> => {
        if (done) return Promise.resolve({ value: undefined, done: true });
        return this.pull(true, options).then((r) => {
          if (r.done) done = true;
          return r;
        });
      },
      return: (): Promise<IteratorResult<T>> => {
        done = true;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.events();
  }

  close(): void {
    this.finish(undefined, false);
  }

  /**
   * Close everything. `reason`: undefined for a plain close (iterators end, once() rejects with CancelledError),
   * an error for abort or runtime close (both reject with it).
   */
  protected finish(reason: unknown, fromRuntime: boolean): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeReason = reason;
    this.removeAbort?.();
    this.removeAbort = undefined;
    if (!fromRuntime) this.watcher.close();
    (this.handle as SourceHandle<R>).close();
    const pullers = this.pullers.splice(0);
    for (const p of pullers) {
      if (p.iterator && (reason === undefined || fromRuntime)) p.resolve({ value: undefined, done: true });
      else p.reject(reason ?? new CancelledError(`the ${this.kind} source was closed`));
    }
    this.onClosed();
  }

  /** Hook for kinds that hold a promise of their own (process exit). */
  protected onClosed(): void {}

  ref(): this {
    this.userRef = true;
    this.syncRef();
    return this;
  }

  unref(): this {
    this.userRef = false;
    this.syncRef();
    return this;
  }

  hasRef(): boolean {
    return this.userRef;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
