/**
 * The thread pool: worker threads named `pool-1` … `pool-N` that run task kinds registered by modules.
 * Hand-written rather than piscina or tinypool; the reasons are in docs/architecture.md ("Thread pool and
 * modules").
 */

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type Transferable } from 'node:worker_threads';
import {
  CancelledError,
  InvalidArgumentError,
  describeReceived,
  PoolQueueFullError,
  PoolTaskLoadError,
  PoolWorkerExitedError,
} from '../errors.js';
import { traceOriginEpoch } from '../trace.js';
import { ERROR_CLASSES, type DoneMessage, type RunMessage, type SerializedError } from './protocol.js';

/** Options of {@link createThreadPool} (and of the runtime's pool, {@link RuntimeOptions}). */
export interface ThreadPoolOptions {
  /** Worker threads, started on demand up to this many. Defaults to `os.availableParallelism()`. */
  readonly size?: number;
  /**
   * The most tasks waiting for a free worker (running tasks do not count). Defaults to `1024`.
   * What happens beyond it is {@link ThreadPoolOptions.onFull}.
   */
  readonly maxQueue?: number;
  /**
   * When the queue is full: `'wait'` makes {@link ThreadPool.run} wait for room before queueing (the caller is
   * slowed down, nothing is lost); `'reject'` rejects at once with a {@link PoolQueueFullError}.
   * Defaults to `'wait'`.
   */
  readonly onFull?: 'wait' | 'reject';
  /** Thread name prefix: workers are `<prefix>-1` … `<prefix>-N`. Defaults to `'pool'`. */
  readonly namePrefix?: string;
  /**
   * Trace task start and end inside the workers (lines carry the worker's name). Defaults to off.
   */
  readonly trace?: 'stdout' | 'stderr' | false;
  /**
   * Capture the caller's stack at {@link ThreadPool.run} so task errors show where the task was submitted
   * (after the worker's own frames). Costs about a microsecond per task. Defaults to `true`.
   */
  readonly callerStacks?: boolean;
  /** Passed to each `Worker` (heap limits). Defaults to Node's. */
  readonly resourceLimits?: NonNullable<ConstructorParameters<typeof Worker>[1]>['resourceLimits'];
}

/**
 * A registered task kind: a handle for {@link ThreadPool.run}. `I` is the input type, `O` the result type.
 */
export interface TaskKind<I = unknown, O = unknown> {
  /** The module URL the workers load. */
  readonly url: string;
  /** The export called for each task. */
  readonly exportName: string;
  /** `exportName@file`, used in traces and errors. */
  readonly label: string;
  /** @internal */
  readonly id: number;
  /** @internal Phantom fields carrying the input and output types. */
  readonly __types?: { input: I; output: O };
}

/** Options of one {@link ThreadPool.run} call. */
export interface RunTaskOptions {
  /**
   * Objects (usually `ArrayBuffer`s inside the input) to move to the worker instead of copying. They become
   * unusable in the caller.
   */
  readonly transfer?: readonly Transferable[];
  /**
   * Cancel the task: a queued task is dropped, a running one is told through its `ctx.signal`. Either way the
   * promise rejects at once with `signal.reason`.
   */
  readonly signal?: AbortSignal;
  /**
   * Run on the worker chosen by this key (`key % size`) instead of the first free one. Tasks that keep state in
   * a worker between calls (a streaming hash) use one key for their whole life. Defaults to any worker.
   */
  readonly affinity?: number;
}

/** Counters of a pool, for tests and monitoring. */
export interface ThreadPoolStats {
  /** Workers started and not exited. */
  readonly workers: number;
  /** Tasks running in a worker. */
  readonly running: number;
  /** Tasks waiting for a worker. */
  readonly queued: number;
  /** Callers waiting for room in a full queue (`onFull: 'wait'`). */
  readonly waiting: number;
  /** Tasks finished (resolved or rejected) since the pool was created. */
  readonly completed: number;
}

interface Task {
  readonly id: number;
  readonly kind: TaskKind;
  readonly input: unknown;
  readonly transfer: readonly Transferable[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** Captured at run(); V8 formats its stack only if an error needs it. */
  readonly caller: Error | undefined;
  readonly affinity: number | undefined;
  removeAbort: (() => void) | undefined;
  slot: PoolWorker | undefined;
  settled: boolean;
}

interface PoolWorker {
  readonly index: number;
  readonly name: string;
  readonly worker: Worker;
  readonly known: Set<number>;
  readonly pinned: Task[];
  task: Task | undefined;
  crash: unknown;
  exited: boolean;
  /** Whether the worker keeps Node alive (it has, or just had, a task). */
  refd: boolean;
}

let nextKindId = 1;
const kindsByKey = new Map<string, TaskKind>();
const validKinds = new WeakSet<object>();

function workerScript(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  // Running core's TypeScript sources (its own tests under vitest): the worker needs the compiled file.
  return new URL('../../dist/pool/worker.js', import.meta.url);
}

function normalizeUrl(url: string | URL): string {
  if (url instanceof URL) return url.href;
  if (typeof url !== 'string' || url === '') throw new InvalidArgumentError('url', `must be a module URL or absolute path, got ${describeReceived(url)}`);
  if (url.startsWith('/')) return pathToFileURL(url).href;
  try {
    return new URL(url).href;
  } catch {
    throw new InvalidArgumentError('url', `must be an absolute URL (file:, data:) or an absolute path, got '${url}'`);
  }
}

/**
 * Name a task kind: the module `url` (a `file:` URL, usually `new URL('./tasks.js', import.meta.url)`, or an
 * absolute path) and the `exportName` of a {@link TaskFunction} in it. Kinds are process-wide values; the same
 * `(url, exportName)` always gives the same kind, so every pool (one per runtime) can run it.
 *
 * @example
 * ```ts
 * const sum = taskKind<Float64Array, number>(new URL('./tasks.js', import.meta.url), 'sum');
 * const total = await pool.run(sum, new Float64Array([1, 2, 3]));
 * ```
 */
export function taskKind<I = unknown, O = unknown>(url: string | URL, exportName: string): TaskKind<I, O> {
  const href = normalizeUrl(url);
  if (typeof exportName !== 'string' || exportName === '') {
    throw new InvalidArgumentError('exportName', `must be a non-empty string, got ${describeReceived(exportName)}`);
  }
  const key = `${exportName}\0${href}`;
  let kind = kindsByKey.get(key);
  if (kind === undefined) {
    const file = href.slice(href.lastIndexOf('/') + 1);
    kind = Object.freeze({ url: href, exportName, label: `${exportName}@${file}`, id: nextKindId++ });
    kindsByKey.set(key, kind);
    validKinds.add(kind);
  }
  return kind as TaskKind<I, O>;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Rebuild a task's error on the calling thread: same class (for global error classes and fdloop's pool
 * errors), same message and properties (`code`, `errno`, `syscall`, `path`), and a stack made of the worker's
 * frames, a line naming the worker and task, and the caller's frames.
 */
function reviveError(s: SerializedError, where: string, callerStack: string | undefined): Error {
  let error: Error;
  if (s.name === 'PoolTaskLoadError') error = new PoolTaskLoadError(s.message);
  else {
    const Ctor = ERROR_CLASSES[s.ctor] ?? Error;
    error = new Ctor(s.message);
    if (error.name !== s.name) Object.defineProperty(error, 'name', { value: s.name, writable: true, configurable: true, enumerable: false });
  }
  Object.assign(error, s.props);
  if (s.cause !== undefined) {
    const cause = 'ctor' in s.cause ? reviveError(s.cause, where, undefined) : s.cause.value;
    Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  }
  const workerStack = s.stack ?? `${s.name}: ${s.message}`;
  const callerFrames = callerStack === undefined ? '' : callerStack.slice(callerStack.indexOf('\n') + 1);
  error.stack = `${workerStack}\n    at <${where}>${callerFrames === '' ? '' : `\n${callerFrames}`}`;
  return error;
}

/**
 * A pool of worker threads (`pool-1` … `pool-N`) running registered task kinds, one task per worker at a
 * time, with a bounded queue, cancellation and clean shutdown. Each runtime has one (see
 * {@link Runtime.pool}); a pool can also be used on its own through {@link createThreadPool}.
 *
 * Idle workers do not keep Node alive; a worker with a task does.
 *
 * @example
 * ```ts
 * import { createThreadPool, taskKind } from '@fdloop/core';
 * const pool = createThreadPool({ size: 2 });
 * const sum = taskKind<number[], number>(new URL('./tasks.js', import.meta.url), 'sum');
 * console.log(await pool.run(sum, [1, 2, 3])); // 6
 * await pool.close();
 * ```
 */
export class ThreadPool implements AsyncDisposable {
  /** The most workers. */
  readonly size: number;
  /** The queue bound. */
  readonly maxQueue: number;

  private readonly onFull: 'wait' | 'reject';
  private readonly prefix: string;
  private readonly trace: 'stdout' | 'stderr' | undefined;
  private readonly callerStacks: boolean;
  private readonly resourceLimits: ThreadPoolOptions['resourceLimits'];
  private readonly slots: (PoolWorker | undefined)[];
  private readonly queue: Task[] = [];
  private queuedCount = 0;
  private runningCount = 0;
  private completedCount = 0;
  private readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private nextTaskId = 1;
  private readonly idle = new Set<PoolWorker>();
  private unrefTimer: NodeJS.Immediate | undefined;
  private isClosed = false;
  private closing: Promise<void> | undefined;

  constructor(options: ThreadPoolOptions = {}) {
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1 || size > 1024) throw new InvalidArgumentError('size', `must be an integer from 1 to 1024, got ${describeReceived(size)}`);
    const maxQueue = options.maxQueue ?? 1024;
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new InvalidArgumentError('maxQueue', `must be an integer >= 0, got ${describeReceived(maxQueue)}`);
    const onFull = options.onFull ?? 'wait';
    if (onFull !== 'wait' && onFull !== 'reject') throw new InvalidArgumentError('onFull', `must be 'wait' or 'reject', got ${describeReceived(onFull)}`);
    this.size = size;
    this.maxQueue = maxQueue;
    this.onFull = onFull;
    this.prefix = options.namePrefix ?? 'pool';
    this.trace = options.trace === false ? undefined : options.trace;
    this.callerStacks = options.callerStacks ?? true;
    this.resourceLimits = options.resourceLimits;
    this.slots = new Array<PoolWorker | undefined>(size).fill(undefined);
  }

  /** Whether {@link ThreadPool.close} was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Current counters. */
  get stats(): ThreadPoolStats {
    return {
      workers: this.slots.filter((s) => s !== undefined).length,
      running: this.runningCount,
      queued: this.queuedCount,
      waiting: this.waiters.length,
      completed: this.completedCount,
    };
  }

  /**
   * Run one task of `kind` with `input` on a worker. Resolves with the task's result; rejects with the task's
   * error (rebuilt with its class, `code`, `errno`, `syscall`, `path`, and the worker's stack followed by the
   * caller's), with `signal.reason` when aborted, with a {@link PoolWorkerExitedError} when the worker died,
   * with a {@link CancelledError} when the pool closes first, or with a {@link PoolQueueFullError} when the
   * queue is full and the pool was created with `onFull: 'reject'`.
   *
   * @example
   * ```ts
   * const digest = await pool.run(sha256, data, { transfer: [data.buffer], signal: AbortSignal.timeout(5000) });
   * ```
   */
  run<I, O>(kind: TaskKind<I, O>, input: I, options: RunTaskOptions = {}): Promise<O> {
    const caller = this.callerStacks ? new Error('caller') : undefined;
    if (this.isClosed) return Promise.reject(new CancelledError('the thread pool is closed'));
    if (!validKinds.has(kind)) {
      return Promise.reject(new InvalidArgumentError('kind', 'must be a task kind made by taskKind() or ModuleContext.task()'));
    }
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const affinity = options.affinity;
    if (affinity !== undefined && (!Number.isInteger(affinity) || affinity < 0)) {
      return Promise.reject(new InvalidArgumentError('affinity', `must be an integer >= 0, got ${describeReceived(affinity)}`));
    }
    if (this.queuedCount >= this.maxQueue && !this.hasIdleWorkerFor(affinity)) {
      if (this.onFull === 'reject') return Promise.reject(new PoolQueueFullError(this.maxQueue));
      return this.ready(signal).then(() => this.run(kind, input, options));
    }
    return new Promise<O>((resolve, reject) => {
      const task: Task = {
        id: this.nextTaskId++,
        kind,
        input,
        transfer: options.transfer ?? [],
        resolve: resolve as (value: unknown) => void,
        reject,
        caller,
        affinity,
        removeAbort: undefined,
        slot: undefined,
        settled: false,
      };
      if (signal !== undefined) {
        const onAbort = (): void => this.abort(task, abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        task.removeAbort = () => signal.removeEventListener('abort', onAbort);
      }
      this.enqueue(task);
    });
  }

  /**
   * Resolve when the queue has room for another task (at once if it has). Producers that submit many tasks
   * await it between submissions to stay within the bound without relying on `onFull: 'wait'`.
   * Rejects with `signal.reason` when aborted and with a {@link CancelledError} when the pool closes.
   */
  ready(signal?: AbortSignal): Promise<void> {
    if (this.isClosed) return Promise.reject(new CancelledError('the thread pool is closed'));
    if (this.queuedCount < this.maxQueue || this.hasIdleWorkerFor(undefined)) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortReason(signal as AbortSignal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /**
   * Shut down: queued tasks and callers waiting for room reject with a {@link CancelledError}, running tasks
   * are told through their signal and reject with a {@link CancelledError}, and every worker is terminated.
   * Resolves when all workers have exited. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.isClosed = true;
    const cancelled = new CancelledError('the thread pool closed before the task finished');
    for (const w of this.waiters.splice(0)) w.reject(cancelled);
    for (const task of this.queue.splice(0)) this.settle(task, false, cancelled);
    const exits: Promise<unknown>[] = [];
    for (const slot of this.slots) {
      if (slot === undefined) continue;
      for (const task of slot.pinned.splice(0)) this.settle(task, false, cancelled);
      if (slot.task !== undefined) this.abort(slot.task, cancelled);
      slot.task = undefined;
      slot.exited = true;
      exits.push(slot.worker.terminate());
    }
    this.slots.fill(undefined);
    if (this.unrefTimer !== undefined) clearImmediate(this.unrefTimer);
    this.unrefTimer = undefined;
    this.idle.clear();
    this.queuedCount = 0;
    this.runningCount = 0;
    this.closing = Promise.all(exits).then(() => undefined);
    return this.closing;
  }

  /** Same as {@link ThreadPool.close}, for `await using pool = createThreadPool()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------------------------------------------------

  private hasIdleWorkerFor(affinity: number | undefined): boolean {
    if (affinity !== undefined) {
      const slot = this.slots[affinity % this.size];
      return slot === undefined || (slot.task === undefined && slot.pinned.length === 0);
    }
    return this.slots.some((s) => s === undefined || (s.task === undefined && s.pinned.length === 0));
  }

  private enqueue(task: Task): void {
    this.queuedCount++;
    if (task.affinity !== undefined) {
      const index = task.affinity % this.size;
      const slot = this.slots[index] ?? this.spawn(index);
      slot.pinned.push(task);
      if (slot.task === undefined) this.next(slot);
      return;
    }
    this.queue.push(task);
    const idle = this.slots.find((s) => s !== undefined && s.task === undefined && s.pinned.length === 0);
    if (idle !== undefined) {
      this.next(idle);
      return;
    }
    const free = this.slots.indexOf(undefined);
    if (free >= 0) this.next(this.spawn(free));
  }

  private spawn(index: number): PoolWorker {
    const name = `${this.prefix}-${index + 1}`;
    const worker = new Worker(workerScript(), {
      workerData: { name, trace: this.trace, origin: traceOriginEpoch() },
      // Descriptors opened by a task belong to the process, not to the worker: another worker or the main
      // thread may close them, and they must survive the worker (Node would close them when it exits).
      trackUnmanagedFds: false,
      ...(this.resourceLimits !== undefined ? { resourceLimits: this.resourceLimits } : {}),
    });
    const slot: PoolWorker = { index, name, worker, known: new Set(), pinned: [], task: undefined, crash: undefined, exited: false, refd: false };
    worker.unref();
    worker.on('message', (message: DoneMessage) => this.onDone(slot, message));
    worker.on('error', (err) => {
      slot.crash = err;
    });
    worker.on('exit', (code) => this.onExit(slot, code));
    this.slots[index] = slot;
    return slot;
  }

  /** Give an idle worker its next task: its pinned tasks first, then the shared queue. */
  private next(slot: PoolWorker): void {
    if (slot.exited) return;
    let task = slot.pinned.shift();
    while (task !== undefined && task.settled) task = slot.pinned.shift();
    if (task === undefined) {
      task = this.queue.shift();
      while (task !== undefined && task.settled) task = this.queue.shift();
    }
    if (task === undefined) {
      this.unrefSoon(slot);
      // A caller waiting for room can now go straight to this idle worker (matters with a small maxQueue).
      this.waiters.shift()?.resolve();
      return;
    }
    this.queuedCount--;
    this.wakeWaiter();
    slot.task = task;
    task.slot = slot;
    this.runningCount++;
    const kind = task.kind;
    const first = !slot.known.has(kind.id);
    const message: RunMessage = first
      ? { t: 'run', id: task.id, kind: kind.id, url: kind.url, name: kind.exportName, label: kind.label, input: task.input }
      : { t: 'run', id: task.id, kind: kind.id, label: kind.label, input: task.input };
    if (!slot.refd) {
      slot.refd = true;
      slot.worker.ref();
    }
    try {
      slot.worker.postMessage(message, task.transfer as Transferable[]);
    } catch (err) {
      // The input cannot be cloned (a function, a closed port…): fail this task, keep the worker.
      slot.task = undefined;
      this.runningCount--;
      this.settle(task, false, err);
      this.next(slot);
      return;
    }
    if (first) slot.known.add(kind.id);
  }

  /**
   * Let an idle worker stop keeping Node alive, in the next check phase rather than at once: a caller awaiting
   * one task after another would otherwise pay a ref and an unref per task.
   */
  private unrefSoon(slot: PoolWorker): void {
    if (!slot.refd) return;
    this.idle.add(slot);
    if (this.unrefTimer !== undefined) return;
    this.unrefTimer = setImmediate(() => {
      this.unrefTimer = undefined;
      for (const s of this.idle) {
        if (s.task === undefined && s.refd && !s.exited) {
          s.refd = false;
          s.worker.unref();
        }
      }
      this.idle.clear();
    });
  }

  private wakeWaiter(): void {
    if (this.queuedCount < this.maxQueue) this.waiters.shift()?.resolve();
  }

  private onDone(slot: PoolWorker, message: DoneMessage): void {
    const task = slot.task;
    if (task === undefined || task.id !== message.id) return;
    slot.task = undefined;
    this.runningCount--;
    if (message.ok) this.settle(task, true, message.value);
    else this.settle(task, false, reviveError(message.error as SerializedError, `${slot.name} task ${task.kind.label}`, task.caller?.stack));
    this.next(slot);
  }

  private onExit(slot: PoolWorker, code: number): void {
    if (this.slots[slot.index] === slot) this.slots[slot.index] = undefined;
    const wasClosing = slot.exited;
    slot.exited = true;
    const task = slot.task;
    slot.task = undefined;
    if (task !== undefined) {
      this.runningCount--;
      this.settle(
        task,
        false,
        new PoolWorkerExitedError(slot.name, code, task.kind.label, slot.crash === undefined ? undefined : { cause: slot.crash }),
      );
    }
    if (wasClosing || this.isClosed) return;
    // Replace the worker when work is waiting for it; otherwise the next task starts one.
    if (slot.pinned.length > 0) {
      const fresh = this.spawn(slot.index);
      fresh.pinned.push(...slot.pinned.splice(0));
      this.next(fresh);
    } else if (this.queue.length > 0) {
      this.next(this.spawn(slot.index));
    }
  }

  private abort(task: Task, reason: unknown): void {
    if (task.settled) return;
    const slot = task.slot;
    if (slot !== undefined) {
      // Running: tell the task; the worker stays busy until it returns, and its result is ignored.
      slot.worker.postMessage({ t: 'abort', id: task.id, reason: reason instanceof Error ? reason.message : String(reason) });
    } else {
      // Queued: it is skipped when its turn comes.
      this.queuedCount--;
      this.wakeWaiter();
    }
    this.settle(task, false, reason);
  }

  private settle(task: Task, ok: boolean, value: unknown): void {
    if (task.settled) return;
    task.settled = true;
    task.removeAbort?.();
    this.completedCount++;
    if (ok) task.resolve(value);
    else task.reject(value);
  }
}

/**
 * Create a stand-alone thread pool. Most code uses a runtime's pool instead ({@link Runtime.pool}, or
 * {@link ModuleContext.run} from a module), which the runtime counts as pending work and closes with itself.
 *
 * @example
 * ```ts
 * await using pool = createThreadPool({ size: 4, maxQueue: 100 });
 * ```
 */
export function createThreadPool(options: ThreadPoolOptions = {}): ThreadPool {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', `must be an object, got ${describeReceived(options)}`);
  return new ThreadPool(options);
}
