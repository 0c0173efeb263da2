/**
 * What a module author writes for the thread pool: a task function exported from an ES module. The pool loads
 * the module once per worker (by URL) and calls the named export for every task of that kind.
 */

import type { Transferable } from 'node:worker_threads';

/**
 * The second argument of every {@link TaskFunction}, inside the worker.
 */
export interface TaskContext {
  /**
   * Fires when the caller aborts the task (its `AbortSignal`) or the pool closes while the task runs.
   * Long tasks check `signal.aborted` between steps; the caller's promise has already rejected by then.
   */
  readonly signal: AbortSignal;
  /** The worker's thread name, `'pool-1'` … `'pool-N'` (also what tracing and `print()` show). */
  readonly thread: string;
  /**
   * Move these objects (usually `ArrayBuffer`s of the result) to the calling thread instead of copying them.
   * Call it before returning; the objects become unusable in the worker.
   */
  transfer(...items: Transferable[]): void;
}

/**
 * A task kind's implementation: a function exported from an ES module, run in a pool worker with the task's
 * input (structured-cloned, or moved when the caller listed transferables) and a {@link TaskContext}.
 * Its return value (or the value its promise resolves to) goes back to the caller; what it throws is rethrown
 * to the caller with the worker's stack followed by the caller's.
 *
 * @example
 * ```ts
 * // tasks.ts — loaded in every pool worker
 * import type { TaskFunction } from '@fdloop/core';
 * export const sum: TaskFunction<Float64Array, number> = (values) => values.reduce((a, b) => a + b, 0);
 * ```
 */
export type TaskFunction<I = unknown, O = unknown> = (input: I, context: TaskContext) => O | Promise<O>;
