/**
 * Messages between a {@link ThreadPool} and its workers, and how errors cross the thread boundary.
 * @internal
 */

/** Main thread → worker: run a task. `url`/`name` travel only the first time a worker sees a kind. */
export interface RunMessage {
  readonly t: 'run';
  readonly id: number;
  readonly kind: number;
  readonly url?: string;
  readonly name?: string;
  readonly label: string;
  readonly input: unknown;
}

/** Main thread → worker: the task `id` was aborted; its `ctx.signal` fires. */
export interface AbortMessage {
  readonly t: 'abort';
  readonly id: number;
  readonly reason: string;
}

export type ToWorker = RunMessage | AbortMessage;

/** Worker → main thread: a task finished. */
export interface DoneMessage {
  readonly t: 'done';
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: SerializedError;
}

/** An error as it crosses threads: structured clone would drop `code`, `errno`, `syscall`, `path`. */
export interface SerializedError {
  /** The constructor's name when it is a global error class (`'TypeError'`), else `'Error'`. */
  readonly ctor: string;
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** Own enumerable properties that survive structured clone (`code`, `errno`, `syscall`, `path`, …). */
  readonly props: Record<string, unknown>;
  readonly cause?: SerializedError | { readonly value: unknown };
}

/** Global error classes an error is rebuilt as, by constructor name. */
export const ERROR_CLASSES: Readonly<Record<string, new (message?: string) => Error>> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** Turn anything thrown by a task into a {@link SerializedError}. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return {
      ctor: 'Error',
      name: 'Error',
      message: `a pool task threw a non-error value: ${describeValue(error)}`,
      stack: undefined,
      props: cloneable(error) ? { thrown: error } : {},
    };
  }
  const ctorName = error.constructor?.name ?? 'Error';
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === 'cause' || key === 'stack' || key === 'message') continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    if (cloneable(value)) props[key] = value;
  }
  const base = {
    ctor: ERROR_CLASSES[ctorName] !== undefined ? ctorName : 'Error',
    name: error.name,
    message: error.message,
    stack: error.stack,
    props,
  };
  if (error.cause === undefined || depth > 4) return base;
  const cause = error.cause instanceof Error ? serializeError(error.cause, depth + 1) : cloneable(error.cause) ? { value: error.cause } : undefined;
  return cause === undefined ? base : { ...base, cause };
}

function describeValue(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return typeof value;
  }
}
