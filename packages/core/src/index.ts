/**
 * `@fdloop/core`: watch any file descriptor from Node.js, with callbacks or async/await, on a pluggable backend.
 *
 * - The backend contract ({@link Backend}, {@link Poller}, {@link Interest}, {@link Ready}, {@link Capabilities}).
 * - The {@link Runtime}: {@link Runtime.watch}, {@link Runtime.readable}, {@link Runtime.events}, timers,
 *   {@link Runtime.run} until nothing is pending, {@link Runtime.close}.
 * - Errors with stable codes ({@link FdloopError}) and Node-shaped errno errors ({@link ErrnoError}).
 * - Tracing helpers ({@link print}, {@link printContent}, {@link currentThread}).
 *
 * @example
 * ```ts
 * import { createRuntime, Interest } from '@fdloop/core';
 * import { epoll, sys } from '@fdloop/backend-epoll';
 *
 * const rt = createRuntime({ backend: epoll() });
 * const [r, w] = sys.pipe();
 * rt.watch(r, Interest.READABLE, (ev, watcher) => { watcher.close(); });
 * sys.write(w, Buffer.from('ping'));
 * await rt.run();
 * ```
 *
 * @packageDocumentation
 */

export * from './contract/index.js';
export * from './errors.js';
export {
  Runtime,
  ReadyEvent,
  createRuntime,
  describeInterest,
  describeReady,
  validateFd,
  validateInterest,
  type ErrorContext,
  type ErrorHandler,
  type EventsOptions,
  type RuntimeOptions,
  type Timer,
  type WaitOptions,
  type WatchCallback,
  type Watcher,
} from './runtime.js';
export {
  KNOWN_BACKENDS,
  PLATFORM_BACKENDS,
  detectBackend,
  knownBackendNames,
  loadBackend,
  registerBackend,
  type BackendFactory,
} from './detect.js';
export {
  currentThread,
  currentTick,
  print,
  printContent,
  setPrintOutput,
  setThreadName,
  type PrintContentOptions,
  type TraceOptions,
  type TraceWriter,
} from './trace.js';
