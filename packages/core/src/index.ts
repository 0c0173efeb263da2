/**
 * `@fdloop/core`: watch any file descriptor from Node.js, with callbacks or async/await, on a pluggable backend.
 *
 * - The backend contract ({@link Backend}, {@link Poller}, {@link Interest}, {@link Ready}, {@link Capabilities}).
 * - The {@link Runtime}: {@link Runtime.watch}, {@link Runtime.readable}, {@link Runtime.events}, timers,
 *   {@link Runtime.run} until nothing is pending, {@link Runtime.close}.
 * - Event sources ({@link Runtime.timer}, {@link Runtime.signal}, {@link Runtime.notifier}, {@link Runtime.watchPath},
 *   {@link Runtime.processExit}) for backends that declare them; the backend side is {@link SourcePoller}.
 * - Errors with stable codes ({@link FdloopError}) and Node-shaped errno errors ({@link ErrnoError}).
 * - {@link ownFd}: drive a library that owns its descriptor (libmosquitto, libpq…) from the runtime.
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
export {
  completionProvider,
  type CompletionBackend,
  type CompletionIo,
  type CompletionProvider,
  type CompletionUnavailable,
} from './contract/completion.js';
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
  notifyRemote,
  resolveSignal,
  signalName,
  type KernelTimerCallback,
  type NotifierCallback,
  type PathWatchCallback,
  type ProcessExitCallback,
  type SignalCallback,
} from './sources/index.js';
export { OwnedFd, ownFd, type OwnedFdLibrary, type OwnedFdOptions } from './owned-fd.js';
export {
  ThreadPool,
  createThreadPool,
  taskKind,
  type RunTaskOptions,
  type TaskContext,
  type TaskFunction,
  type TaskKind,
  type ThreadPoolOptions,
  type ThreadPoolStats,
} from './pool/index.js';
export {
  callbackApi,
  defineModule,
  withCallback,
  type Callback,
  type CallbackApi,
  type FdloopModule,
  type ModuleContext,
} from './module.js';
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
  inTick,
  print,
  printContent,
  setPrintOutput,
  setThreadName,
  type PrintContentOptions,
  type TraceOptions,
  type TraceWriter,
} from './trace.js';
