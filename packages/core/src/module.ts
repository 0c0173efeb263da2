/**
 * The module plugin interface. A module (Fs, Crypto, Http, Serial…) is a value with a name and a `setup`
 * function; {@link Runtime.use} calls `setup` once per runtime with a {@link ModuleContext}, through which the
 * module registers pool task kinds, runs them (counted as pending work of the runtime), reads the backend's
 * capabilities, traces, and learns when the runtime closes. What `setup` returns is the module's API for that
 * runtime.
 */

import type { Backend, Capabilities, CapabilityName } from './contract/index.js';
import { InvalidArgumentError, describeReceived, RuntimeClosedError, UnsupportedError } from './errors.js';
import { ThreadPool, taskKind, type RunTaskOptions, type TaskKind, type ThreadPoolOptions } from './pool/pool.js';
import { traceFromEnv, type TraceOptions } from './trace.js';
import { routeCallbackResult, type ErrorContext, type Runtime } from './runtime.js';

/**
 * A module: a name and a `setup` function run once per runtime by {@link Runtime.use}.
 * Build one with {@link defineModule}.
 *
 * @typeParam API - what `setup` returns: the module's API bound to one runtime.
 */
export interface FdloopModule<API> {
  /** A short stable name (`'fs'`, `'crypto'`), shown in traces and errors. */
  readonly name: string;
  /** Called once per runtime; returns the module's API for that runtime. */
  setup(context: ModuleContext): API;
}

/**
 * Define a module.
 *
 * @example
 * ```ts
 * import { defineModule } from '@fdloop/core';
 * const sumTask = new URL('./tasks.js', import.meta.url);
 * export const mathModule = defineModule('math', (ctx) => {
 *   const sum = ctx.task<number[], number>(sumTask, 'sum');
 *   return { sum: (values: number[]) => ctx.run(sum, values) };
 * });
 * // const math = rt.use(mathModule); await math.sum([1, 2, 3]);
 * ```
 */
export function defineModule<API>(name: string, setup: (context: ModuleContext) => API): FdloopModule<API> {
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('name', `must be a non-empty string, got ${describeReceived(name)}`);
  if (typeof setup !== 'function') throw new InvalidArgumentError('setup', `must be a function, got ${describeReceived(setup)}`);
  return Object.freeze({ name, setup });
}

/**
 * What a module's `setup` receives: its door into one runtime.
 */
export interface ModuleContext {
  /** The runtime the module is attached to. */
  readonly runtime: Runtime;
  /** The module's name. */
  readonly name: string;
  /** The runtime's backend. */
  readonly backend: Backend;
  /** The backend's capabilities (for example `completionIo`, `pathWatch`). */
  readonly capabilities: Capabilities;
  /** The runtime's thread pool, started on first use. Prefer {@link ModuleContext.run}, which counts as pending work. */
  readonly pool: ThreadPool;
  /**
   * Register (name) a pool task kind: an export of an ES module loaded once per pool worker.
   * @param url - the module, usually `new URL('./tasks.js', import.meta.url)`.
   * @param exportName - the {@link TaskFunction} export.
   */
  task<I, O>(url: string | URL, exportName: string): TaskKind<I, O>;
  /**
   * Run a task on the runtime's pool. While it runs, the runtime counts it as pending work (`run()` does not
   * resolve before it settles). Errors, cancellation and backpressure are those of {@link ThreadPool.run}.
   */
  run<I, O>(kind: TaskKind<I, O>, input: I, options?: RunTaskOptions): Promise<O>;
  /**
   * Count one piece of the module's own work (an io_uring submission, a watch) as pending, until the returned
   * function is called (idempotent). See {@link Runtime.hold}.
   */
  hold(what: string): () => void;
  /** Whether the runtime traces; check it before building an expensive trace message. */
  readonly tracing: boolean;
  /** Write a trace line prefixed with the module's name, when the runtime traces. */
  trace(message: string): void;
  /** Throw an {@link UnsupportedError} unless the backend has `capability`. */
  requireCapability(capability: CapabilityName): void;
  /**
   * Run `hook` when the runtime closes (before its pool shuts down). Hooks run in reverse order of
   * registration; a hook's error goes to the runtime's `onError`.
   */
  onClose(hook: () => void | Promise<void>): void;
}

/**
 * A Node-style callback: `(error)` on failure, `(null, value)` on success.
 */
export type Callback<T> = (error: Error | null, value?: T) => void;

const MODULE_CONTEXT: ErrorContext = Object.freeze({ source: 'module' });

/** The runtime each module API belongs to, so that {@link callbackApi} can report to its `onError`. */
const apiRuntimes = new WeakMap<object, Runtime>();

/**
 * Settle `callback` from `promise` (Node style), or return the promise when there is no callback. Module APIs
 * use it so every operation works with `await` and with a trailing callback. The callback runs outside the
 * promise chain, so an exception it throws is not turned into a rejection: it goes to `runtime`'s `onError`
 * (context `'module'`), like an exception from any other callback, and without a runtime it is rethrown as an
 * uncaught exception. An `async` callback whose promise rejects is treated exactly the same way.
 *
 * @param runtime - whose `onError` receives the callback's errors. Defaults to none (rethrown).
 * @example
 * ```ts
 * readFile(path: string, callback?: Callback<Buffer>) { return withCallback(this.readFilePromise(path), callback, this.rt); }
 * ```
 */
export function withCallback<T>(promise: Promise<T>, callback: Callback<T> | undefined, runtime?: Runtime): Promise<T> | undefined {
  if (callback === undefined) return promise;
  if (typeof callback !== 'function') throw new InvalidArgumentError('callback', `must be a function, got ${describeReceived(callback)}`);
  const call = (error: Error | null, value?: T): void => {
    let result: unknown;
    try {
      result = error === null ? callback(null, value) : callback(error);
    } catch (err) {
      if (runtime === undefined) throw err;
      runtime._report(err, MODULE_CONTEXT);
      return;
    }
    routeCallbackResult(runtime, result, MODULE_CONTEXT);
  };
  promise.then(
    (value) => queueMicrotask(() => call(null, value)),
    (error: unknown) => queueMicrotask(() => call(error instanceof Error ? error : new Error(String(error)))),
  );
  return undefined;
}

/**
 * Turn an API of promise-returning functions into the same API with a trailing Node-style callback (the
 * callback form of a module). Arguments before the callback are those of the promise form; pass `undefined`
 * for optional ones you skip. For an API returned by {@link Runtime.use}, an exception thrown by a callback (or a
 * rejection of the promise an `async` callback returns) goes to that runtime's `onError`, see {@link withCallback}.
 *
 * @example
 * ```ts
 * const fs = rt.use(fsModule());
 * const cb = callbackApi(fs);
 * cb.readFile('/etc/hostname', undefined, (err, data) => print(String(data)));
 * ```
 */
export function callbackApi<T extends object>(api: T): CallbackApi<T> {
  const out: Record<string, unknown> = {};
  for (const key of allKeys(api)) {
    const fn = (api as Record<string, unknown>)[key];
    if (typeof fn !== 'function') continue;
    out[key] = (...args: unknown[]) => {
      const last = args[args.length - 1];
      if (typeof last !== 'function') {
        throw new InvalidArgumentError('callback', `${key}() of the callback API needs a function as its last argument`);
      }
      let promise: Promise<unknown>;
      try {
        promise = Promise.resolve((fn as (...a: unknown[]) => unknown).apply(api, args.slice(0, -1)));
      } catch (err) {
        promise = Promise.reject(err);
      }
      withCallback(promise, last as Callback<unknown>, apiRuntimes.get(api));
    };
  }
  return out as CallbackApi<T>;
}

function allKeys(obj: object): string[] {
  const keys = new Set<string>();
  for (let o: object | null = obj; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const k of Object.getOwnPropertyNames(o)) if (k !== 'constructor') keys.add(k);
  }
  return [...keys];
}

/** The callback form of an API made by {@link callbackApi}: every `(...args) => Promise<R>` becomes `(...args, callback) => void`. */
export type CallbackApi<T> = {
  readonly [K in keyof T as T[K] extends (...args: never[]) => Promise<unknown> ? K : never]: T[K] extends (...args: infer A) => Promise<infer R>
    ? (...args: [...A, Callback<R>]) => void
    : never;
};

// -----------------------------------------------------------------------------------------------------------
// Per-runtime state, kept here so runtime.ts only needs small hooks.

interface RuntimeState {
  pool: ThreadPool | undefined;
  readonly apis: Map<FdloopModule<unknown>, unknown>;
  readonly closeHooks: { module: string; hook: () => void | Promise<void> }[];
}

const states = new WeakMap<Runtime, RuntimeState>();

function stateOf(rt: Runtime): RuntimeState {
  let s = states.get(rt);
  if (s === undefined) {
    s = { pool: undefined, apis: new Map(), closeHooks: [] };
    states.set(rt, s);
  }
  return s;
}

function poolTrace(trace: RuntimeOptionsLike['trace']): 'stdout' | 'stderr' | false {
  const t: TraceOptions | undefined = trace === undefined ? traceFromEnv() : trace === true ? {} : trace === false ? undefined : trace;
  if (t === undefined) return false;
  // A function writer cannot cross threads: the workers write to stderr then.
  return t.output === 'stdout' ? 'stdout' : 'stderr';
}

interface RuntimeOptionsLike {
  readonly trace?: boolean | TraceOptions;
  readonly pool?: ThreadPoolOptions;
}

/** The runtime's pool, created on first use. @internal Use {@link Runtime.pool}. */
export function runtimePool(rt: Runtime, options: RuntimeOptionsLike): ThreadPool {
  if (rt.closed) throw new RuntimeClosedError('pool');
  const s = stateOf(rt);
  if (s.pool === undefined) {
    s.pool = new ThreadPool({ trace: poolTrace(options.trace), ...options.pool });
    if (rt._tracing) rt._trace(`thread pool created: up to ${s.pool.size} workers, queue bound ${s.pool.maxQueue}`);
  }
  return s.pool;
}

/** Attach a module. @internal Use {@link Runtime.use}. */
export function useModule<API>(rt: Runtime, module: FdloopModule<API>, options: RuntimeOptionsLike): API {
  if (rt.closed) throw new RuntimeClosedError('use');
  if (module === null || typeof module !== 'object' || typeof module.setup !== 'function' || typeof module.name !== 'string') {
    throw new InvalidArgumentError('module', 'must be a module made by defineModule() (an object with name and setup)');
  }
  const s = stateOf(rt);
  if (s.apis.has(module)) return s.apis.get(module) as API;
  const name = module.name;
  const context: ModuleContext = {
    runtime: rt,
    name,
    backend: rt.backend,
    capabilities: rt.backend.capabilities,
    get pool() {
      return runtimePool(rt, options);
    },
    task: (url, exportName) => taskKind(url, exportName),
    run: (kind, input, runOptions) => {
      let pool: ThreadPool;
      try {
        pool = runtimePool(rt, options);
      } catch (err) {
        return Promise.reject(err);
      }
      const release = rt.hold(`${name}: ${kind.label}`);
      const p = pool.run(kind, input, runOptions);
      p.then(release, release);
      return p;
    },
    hold: (what) => rt.hold(`${name}: ${what}`),
    get tracing() {
      return rt._tracing;
    },
    trace: (message) => {
      if (rt._tracing) rt._trace(`[${name}] ${message}`);
    },
    requireCapability: (capability) => {
      if (!rt.backend.capabilities[capability]) throw new UnsupportedError(rt.backend.name, capability);
    },
    onClose: (hook) => {
      if (typeof hook !== 'function') throw new InvalidArgumentError('hook', `must be a function, got ${describeReceived(hook)}`);
      s.closeHooks.push({ module: name, hook });
    },
  };
  const api = module.setup(context);
  s.apis.set(module as FdloopModule<unknown>, api);
  if (typeof api === 'object' && api !== null) apiRuntimes.set(api, rt);
  if (rt._tracing) rt._trace(`module ${name} attached`);
  return api;
}

/**
 * Run the modules' close hooks and shut the pool down. Called by {@link Runtime.close}.
 * @internal
 */
export async function closeModules(rt: Runtime, report: (error: unknown) => void): Promise<void> {
  const s = states.get(rt);
  if (s === undefined) return;
  states.delete(rt);
  for (const { hook } of s.closeHooks.reverse()) {
    try {
      await hook();
    } catch (err) {
      report(err);
    }
  }
  await s.pool?.close();
}
