/**
 * The entry point of every pool worker (`pool-1` … `pool-N`). It loads task modules on first use (once per
 * worker), runs one task at a time, and reports results or serialized errors to the pool.
 * @internal
 */

import { parentPort, workerData } from 'node:worker_threads';
import { PoolTaskLoadError } from '../errors.js';
import { adoptTraceOrigin, beginTick, endTick, formatLine, resolveWriter, setThreadName } from '../trace.js';
import { serializeError, type DoneMessage, type RunMessage, type ToWorker } from './protocol.js';
import type { TaskContext, TaskFunction } from './task.js';
import type { Transferable } from 'node:worker_threads';

interface WorkerInit {
  readonly name: string;
  readonly trace: 'stdout' | 'stderr' | undefined;
  /** The pool owner's trace clock origin, in ms since the epoch. */
  readonly origin: number;
}

const init = workerData as WorkerInit;
setThreadName(init.name);
// Trace lines and print() from tasks read on the clock of the thread that owns the pool.
adoptTraceOrigin(init.origin);
const traceWriter = init.trace === undefined ? undefined : resolveWriter(init.trace);
const port = parentPort;
if (port === null) throw new Error('the fdloop pool worker must run in a worker thread');

const kinds = new Map<number, Promise<TaskFunction>>();
/** Kinds whose module has loaded, for a synchronous call without awaiting the import again. */
const ready = new Map<number, TaskFunction>();
const running = new Map<number, Running>();

function load(kind: number, url: string | undefined, name: string | undefined, label: string): Promise<TaskFunction> {
  let fn = kinds.get(kind);
  if (fn === undefined) {
    if (url === undefined || name === undefined) {
      return Promise.reject(new PoolTaskLoadError(`task kind ${label} was never sent to ${init.name}`));
    }
    fn = import(url).then(
      (mod: Record<string, unknown>) => {
        const exported = mod[name];
        if (typeof exported !== 'function') {
          throw new PoolTaskLoadError(`task kind ${label}: export '${name}' of ${url} is ${typeof exported}, not a function`);
        }
        return exported as TaskFunction;
      },
      (err: unknown) => {
        throw new PoolTaskLoadError(`task kind ${label}: cannot load ${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      },
    );
    kinds.set(kind, fn);
  }
  return fn;
}

/** A running task's cancellation state; the AbortController is made only if the task looks at its signal. */
interface Running {
  controller: AbortController | undefined;
  reason: DOMException | undefined;
}

function finish(message: RunMessage, done: DoneMessage, transfers: Transferable[]): void {
  running.delete(message.id);
  if (traceWriter !== undefined) traceWriter(formatLine(`task ${message.label} #${message.id} ${done.ok ? 'done' : 'failed'}`));
  try {
    port?.postMessage(done, transfers);
  } catch (err) {
    // The result cannot be cloned (a function, a class instance with private state…): report that instead.
    port?.postMessage({ t: 'done', id: message.id, ok: false, error: serializeError(err) } satisfies DoneMessage);
  }
}

function failed(message: RunMessage, err: unknown): DoneMessage {
  return { t: 'done', id: message.id, ok: false, error: serializeError(err) };
}

function run(message: RunMessage): void {
  const state: Running = { controller: undefined, reason: undefined };
  running.set(message.id, state);
  const transfers: Transferable[] = [];
  const context: TaskContext = {
    get signal() {
      if (state.controller === undefined) {
        state.controller = new AbortController();
        if (state.reason !== undefined) state.controller.abort(state.reason);
      }
      return state.controller.signal;
    },
    thread: init.name,
    transfer: (...items) => void transfers.push(...items),
  };
  beginTick();
  if (traceWriter !== undefined) traceWriter(formatLine(`task ${message.label} #${message.id} started`));
  const call = (fn: TaskFunction): void => {
    let value: unknown;
    try {
      value = fn(message.input, context);
    } catch (err) {
      finish(message, failed(message, err), []);
      return;
    } finally {
      endTick(); // the task's synchronous part is the tick; its promise settles outside it
    }
    // Synchronous results go back at once; only promises cost a microtask hop.
    if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function') {
      Promise.resolve(value).then(
        (v) => finish(message, { t: 'done', id: message.id, ok: true, value: v }, transfers),
        (err: unknown) => finish(message, failed(message, err), []),
      );
    } else {
      finish(message, { t: 'done', id: message.id, ok: true, value }, transfers);
    }
  };
  const loaded = ready.get(message.kind);
  if (loaded !== undefined) {
    call(loaded);
    return;
  }
  load(message.kind, message.url, message.name, message.label).then(
    (fn) => {
      ready.set(message.kind, fn);
      call(fn);
    },
    (err: unknown) => finish(message, failed(message, err), []),
  );
}

port.on('message', (message: ToWorker) => {
  if (message.t === 'run') {
    run(message);
  } else if (message.t === 'abort') {
    const state = running.get(message.id);
    if (state === undefined) return;
    state.reason = new DOMException(message.reason, 'AbortError');
    state.controller?.abort(state.reason);
  }
});
