/**
 * Tracing: which thread did what, in which tick. Off by default for the runtime; on with the `trace` option of
 * {@link createRuntime} or the `FDLOOP_TRACE` environment variable (`1`/`stderr`, or `stdout`).
 *
 * Every line starts with the elapsed milliseconds since the thread loaded fdloop, the thread's name
 * (`main`, `pool-2`, a worker's name) and the current tick, so interleaved output of several threads stays
 * readable. A *tick* is one call from the event loop into a runtime (a batch of ready events, a round of expired
 * timers, a round of immediates); the runtime prints a marker line when a tick starts.
 *
 * The helpers {@link print}, {@link printContent} and {@link currentThread} are for user programs: they always
 * print, in the same format.
 */

import { writeSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';

// Module state is per thread: every worker_thread loads its own copy of this module.
let threadName: string = isMainThread ? 'main' : `worker-${threadId}`;
let tickNumber = 0;
let tickOpen = false;
/** This thread's trace clock origin on its own `performance.now()` scale (see {@link adoptTraceOrigin}). */
let origin = performance.now();

/**
 * The name tracing uses for the calling thread: `'main'` on the main thread, `'worker-<threadId>'` in a worker
 * unless {@link setThreadName} named it (the thread pool names its workers `pool-1…N`).
 *
 * @example
 * ```ts
 * import { currentThread } from '@fdloop/core';
 * console.log(`running on ${currentThread()}`); // "running on main"
 * ```
 */
export function currentThread(): string {
  return threadName;
}

/**
 * Name the calling thread for tracing (per thread; call it at the start of a worker).
 * @param name - a short name such as `'pool-1'` or `'poller'`.
 */
export function setThreadName(name: string): void {
  threadName = String(name);
}

/** The current tick number of this thread (0 before any runtime ran a callback). */
export function currentTick(): number {
  return tickNumber;
}

/**
 * Start a new tick and return its number. Runtimes call this once per entry from the event loop.
 * @internal
 */
export function beginTick(): number {
  tickNumber += 1;
  tickOpen = true;
  return tickNumber;
}

/**
 * The entry from the event loop that {@link beginTick} started has returned (promise continuations it queued may
 * still run, outside the tick).
 * @internal
 */
export function endTick(): void {
  tickOpen = false;
}

/**
 * Whether a runtime of this thread is inside a tick: running a batch of ready events, timers or immediates. Code
 * that caches something per tick (mod-http's `Date` header) checks this, since outside a tick — a callback of a
 * Node timer, a promise settled by libuv — {@link currentTick} still names the last tick, however long ago it was.
 *
 * @example
 * ```ts
 * import { currentTick, inTick } from '@fdloop/core';
 * const fresh = inTick() && currentTick() === cachedTick;
 * ```
 */
export function inTick(): boolean {
  return tickOpen;
}

/** Where trace or print output goes: a function receiving one line without its trailing newline. */
export type TraceWriter = (line: string) => void;

/** Options of the `trace` setting of a runtime. */
export interface TraceOptions {
  /**
   * Where lines go. `'stderr'` or `'stdout'` write synchronously to that descriptor (so lines of several threads
   * do not reorder); a function receives each line. Defaults to `'stderr'`.
   */
  readonly output?: 'stderr' | 'stdout' | TraceWriter;
}

function writeAll(fd: number, text: string): void {
  const data = Buffer.from(text);
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += writeSync(fd, data, offset, data.length - offset);
    } catch (err) {
      // stdout/stderr may be a non-blocking pipe shared with other threads: wait briefly and retry instead of
      // losing the line.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      throw err;
    }
  }
}

/** Resolve a {@link TraceOptions.output} into a writer. @internal */
export function resolveWriter(output: TraceOptions['output']): TraceWriter {
  if (typeof output === 'function') return output;
  const fd = output === 'stdout' ? 1 : 2;
  return (line) => writeAll(fd, `${line}\n`);
}

/**
 * When this thread's trace clock started, in ms since the epoch: what {@link adoptTraceOrigin} takes in another
 * thread.
 * @internal
 */
export function traceOriginEpoch(): number {
  return performance.timeOrigin + origin;
}

/**
 * Count trace and {@link print} times on this thread from `epochMs` (another thread's
 * {@link traceOriginEpoch}), so a pool worker's lines read on the clock of the thread that started it.
 * @internal
 */
export function adoptTraceOrigin(epochMs: number): void {
  origin = epochMs - performance.timeOrigin;
}

/**
 * Format one line: elapsed time, thread name, tick, message.
 * @internal
 */
export function formatLine(message: string): string {
  const ms = (performance.now() - origin).toFixed(1).padStart(8);
  return `${ms}ms ${threadName.padEnd(9)}| t${String(tickNumber).padEnd(4)}| ${message}`;
}

/**
 * Read the `FDLOOP_TRACE` environment variable: unset, empty or `0` means off, `stdout` traces to stdout, any
 * other value to stderr.
 * @internal
 */
export function traceFromEnv(): TraceOptions | undefined {
  const value = process.env['FDLOOP_TRACE'];
  if (value === undefined || value === '' || value === '0' || value === 'false') return undefined;
  return { output: value === 'stdout' ? 'stdout' : 'stderr' };
}

let printWriter: TraceWriter = resolveWriter('stdout');

/**
 * Where {@link print} and {@link printContent} write, for this thread. Defaults to standard output.
 * @param output - `'stdout'`, `'stderr'` or a function receiving each line.
 */
export function setPrintOutput(output: NonNullable<TraceOptions['output']>): void {
  printWriter = resolveWriter(output);
}

/**
 * Print a line prefixed with the elapsed time, the calling thread's name and the current tick.
 * Arguments are joined like `console.log`'s, strings as they are and other values with `util.inspect`.
 *
 * @example
 * ```ts
 * import { print } from '@fdloop/core';
 * print('read', 42, 'bytes'); // "    12.3ms main     | t3   | read 42 bytes"
 * ```
 */
export function print(...args: unknown[]): void {
  printWriter(formatLine(args.map(stringify).join(' ')));
}

/** Options of {@link printContent}. */
export interface PrintContentOptions {
  /** Lines shown before the rest is summarised. Defaults to `10`. */
  readonly maxLines?: number;
  /** Characters shown per line before it is cut. Defaults to `120`. */
  readonly maxLineLength?: number;
}

/**
 * Print a labelled block of content (text, or bytes decoded as UTF-8), each line indented under the label,
 * cut to a readable size. Useful for showing what a read returned.
 *
 * @example
 * ```ts
 * printContent('pipe data', Buffer.from('hello\nworld\n'));
 * ```
 */
export function printContent(label: string, content: string | Uint8Array, options: PrintContentOptions = {}): void {
  const maxLines = options.maxLines ?? 10;
  const maxLen = options.maxLineLength ?? 120;
  const text = typeof content === 'string' ? content : Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('utf8');
  const bytes = typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  const lines = text.replace(/\n$/, '').split('\n');
  printWriter(formatLine(`${label} (${bytes} bytes, ${lines.length} line${lines.length === 1 ? '' : 's'}):`));
  for (const line of lines.slice(0, maxLines)) {
    const shown = line.length > maxLen ? `${line.slice(0, maxLen)}…` : line;
    printWriter(formatLine(`  │ ${shown}`));
  }
  if (lines.length > maxLines) printWriter(formatLine(`  │ … ${lines.length - maxLines} more line(s)`));
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Error) return value.stack ?? String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The tracer a runtime uses: a writer plus the runtime's name. Disabled tracers cost one boolean check.
 * @internal
 */
export class Tracer {
  readonly enabled: boolean;
  private readonly writer: TraceWriter;
  private readonly prefix: string;

  constructor(options: TraceOptions | undefined, runtimeName: string) {
    this.enabled = options !== undefined;
    this.writer = resolveWriter(options?.output);
    this.prefix = runtimeName === '' ? '' : `[${runtimeName}] `;
  }

  /** Write a trace line (call only when {@link Tracer.enabled}). */
  line(message: string): void {
    this.writer(formatLine(this.prefix + message));
  }

  /** Write a tick marker line. */
  marker(what: string): void {
    this.writer(formatLine(`${this.prefix}──── tick ${tickNumber}: ${what} ────`));
  }
}
