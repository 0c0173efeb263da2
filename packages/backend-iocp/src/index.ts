/**
 * `@fdloop/backend-iocp`: the Windows backend of fdloop. {@link iocp} creates a {@link Backend} whose pollers are
 * I/O completion ports: sockets report readiness through the AFD poll ioctl (the technique of wepoll and mio),
 * files and pipes use overlapped I/O through the completion layer, and a poller thread blocking in
 * `GetQueuedCompletionStatusEx` hands each batch to the JS thread. {@link sys} holds helpers that create
 * sockets, pipes and files worth watching.
 *
 * @example
 * ```ts
 * import { createRuntime, Interest } from '@fdloop/core';
 * import { iocp, sys } from '@fdloop/backend-iocp';
 *
 * const rt = createRuntime({ backend: iocp() });
 * const [a, b] = sys.socketPair();
 * rt.watch(a, Interest.READABLE, (_ev, watcher) => {
 *   const buf = Buffer.alloc(64);
 *   const n = sys.recv(a, buf);
 *   console.log(buf.subarray(0, n).toString()); // "ping"
 *   watcher.close();
 * });
 * sys.send(b, Buffer.from('ping'));
 * await rt.run();
 * ```
 *
 * @packageDocumentation
 */

import {
  InvalidArgumentError,
  describeReceived,
  NO_CAPABILITIES,
  type Backend,
  type Capabilities,
  type CompletionProvider,
  type NetSyscalls,
  type NotifierRemote,
  type PollerOptions,
} from '@fdloop/core';
import { iocpCompletionProvider } from './completion.js';
import { winError } from './errors.js';
import { loadNative } from './native.js';
import { createNet } from './net.js';
import { IocpPoller } from './poller.js';

export * as sys from './sys.js';
export {
  WOULD_BLOCK,
  type CommState,
  type CommTimeouts,
  type ModemStatus,
  type OpenFileOptions,
  type SerialOptions,
  type TcpListener,
} from './sys.js';
export { IocpPoller, MAX_BATCH_SIZE } from './poller.js';
export { iocpCompletionProvider } from './completion.js';
export { winError, winErrorName, errnoOf } from './errors.js';
export type { NativeIocpPoller, NativePollerStats } from './native.js';
export type { IocpNotifierRemote } from './sources.js';

/**
 * What the IOCP backend supports: edge-triggered registrations (emulated: after a report, a direction is polled
 * again once one of this backend's socket functions — {@link sys}'s `recv`/`send`/`tcpAccept` or
 * {@link IocpBackend.net}'s — has returned would-block on the socket, or after `reregister`; see the README),
 * one-shot registrations (an AFD poll is one-shot by nature), `PRIORITY` (TCP urgent data,
 * `AFD_POLL_RECEIVE_EXPEDITED`), a separate read-side hang-up (`AFD_POLL_DISCONNECT`), the completion layer
 * (`completionIo`: the poller's overlapped `read`/`write`, and `backend.completion` for `@fdloop/mod-fs`, whose
 * `open()` works with every official node.exe — unlike epoll, which declares `false` because whether the kernel
 * allows io_uring is known only when a runtime opens it),
 * kernel timers (thread-pool timers), the cross-thread notifier (completion packets), path watching of
 * directories (`ReadDirectoryChangesW`) and process exit (a wait on a process handle; `signo` is always `null`,
 * `code` is the exit code). Signals are not provided.
 */
export const IOCP_CAPABILITIES: Capabilities = Object.freeze({
  ...NO_CAPABILITIES,
  edge: true,
  oneshot: true,
  priority: true,
  readHangup: true,
  completionIo: true,
  timer: true,
  notifier: true,
  pathWatch: true,
  processExit: true,
});

/** The backend {@link iocp} returns: its pollers are {@link IocpPoller}s, with the completion layer. */
export interface IocpBackend extends Backend {
  /**
   * Winsock system calls for `@fdloop/mod-net` and `@fdloop/mod-http` (TCP over IPv4/IPv6, UDP; see the README
   * for unix sockets). Errors are minus Node's errno for Windows, as the contract asks.
   */
  readonly net: NetSyscalls;
  /** Create a poller bound to the calling thread's event loop. */
  createPoller(options: PollerOptions): IocpPoller;
  /**
   * The contract's completion layer ({@link iocpCompletionProvider}): overlapped file I/O with node:fs-compatible
   * descriptors, used by `@fdloop/mod-fs` (`io: 'auto'` reports `'iocp'`).
   */
  readonly completion: CompletionProvider;
  /**
   * Trigger a notifier from any thread of this process: posts a packet carrying `count` to the notifier's port.
   * @throws ErrnoError `EBADF` when the notifier's poller was closed.
   */
  notifyRemote(remote: NotifierRemote, count: number): void;
}

const MAX_PACKET_VALUE = 0xffffffff;

// One NetSyscalls object per loaded addon (per thread), shared by every backend object of that thread.
let net: NetSyscalls | undefined;
function netOf(binding: ReturnType<typeof loadNative>): NetSyscalls {
  net ??= createNet(binding);
  return net;
}

function notifyRemote(remote: NotifierRemote, count: number): void {
  const { port, token, pid } = remote as Partial<Record<'port' | 'token' | 'pid', unknown>>;
  if (remote?.backend !== 'iocp' || typeof port !== 'number' || typeof token !== 'number') {
    throw new InvalidArgumentError('remote', 'must be the remote description of an iocp notifier');
  }
  if (pid !== process.pid) {
    throw new InvalidArgumentError('remote', `belongs to process ${String(pid)}; a completion port cannot be reached from another process`);
  }
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new InvalidArgumentError('count', `must be a positive safe integer, got ${describeReceived(count)}`);
  }
  const sys = loadNative().sys;
  for (let left = count; left > 0; left -= MAX_PACKET_VALUE) {
    const rc = sys.postToPort(port, token, Math.min(left, MAX_PACKET_VALUE));
    if (rc < 0) throw winError(-rc, 'PostQueuedCompletionStatus');
  }
}

/**
 * Create the IOCP backend. The native addon is loaded now, so a missing build (or a non-Windows platform) is
 * reported here rather than on first use.
 * @throws Error if the addon cannot be loaded; the message says how to build it.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { iocp } from '@fdloop/backend-iocp';
 *
 * const rt = createRuntime({ backend: iocp() });
 * ```
 */
export function iocp(): IocpBackend {
  const binding = loadNative();
  return Object.freeze({
    name: 'iocp',
    capabilities: IOCP_CAPABILITIES,
    net: netOf(binding),
    createPoller(options: PollerOptions): IocpPoller {
      return new IocpPoller(options);
    },
    notifyRemote,
    completion: iocpCompletionProvider,
  });
}

/**
 * The same as {@link iocp}; the name `@fdloop/core` looks for when it finds this package by auto-detection
 * (`createRuntime()` with no backend on Windows).
 *
 * @example
 * ```ts
 * import { createBackend } from '@fdloop/backend-iocp';
 * const backend = createBackend();
 * ```
 */
export function createBackend(): Backend {
  return iocp();
}
