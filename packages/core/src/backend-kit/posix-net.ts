/**
 * The {@link NetSyscalls} of the POSIX backends: the native `sock` functions of `@fdloop/native-build`'s `posix`
 * component (`native/fdloop/posix/sock.cc`) plus `read`, `close` and `SO_ERROR` from its `sys` functions, passed
 * through untouched. They return raw `-errno` results as `contract/net.ts` describes; the portable socket API that
 * throws `ErrnoError`s is `@fdloop/mod-net`.
 *
 * @module
 */

import type { NetConstants, NetSyscalls } from '../contract/net.js';
import type { NativePosixSys } from './posix-sys.js';

/** The native `sock` object of the `posix` component: {@link NetSyscalls} without the functions that live in `sys`. */
export type NativePosixSock = Omit<NetSyscalls, 'read' | 'close' | 'socketError' | 'constants'> & {
  /** The platform's socket constants. */
  readonly constants: NetConstants;
};

/** What {@link createPosixNet} needs from a loaded addon. */
export interface NativePosixNetBinding {
  /** The shared `sys` functions. */
  readonly sys: NativePosixSys;
  /** The shared `sock` functions; absent from an addon built before they existed. */
  readonly sock?: NativePosixSock;
}

/**
 * Build the {@link NetSyscalls} of a loaded addon. The native functions are passed through untouched (no wrapper
 * per call): they validate their own arguments and never throw for a failing system call.
 * @param name the package, for the error when the addon has no socket functions.
 * @throws Error when the addon has no `sock` object (an old build): rebuild it.
 *
 * @example
 * ```ts
 * const backend = { name: 'epoll', capabilities, net: createPosixNet(binding, '@fdloop/backend-epoll'), createPoller };
 * ```
 */
export function createPosixNet(binding: NativePosixNetBinding, name: string): NetSyscalls {
  const { sock, sys } = binding;
  if (sock === undefined) {
    throw new Error(`${name}: the native addon has no socket functions; rebuild it (npm rebuild ${name})`);
  }
  return Object.freeze({
    constants: Object.freeze({ ...sock.constants }),
    socket: sock.socket,
    bind: sock.bind,
    listen: sock.listen,
    accept: sock.accept,
    connect: sock.connect,
    shutdown: sock.shutdown,
    setOption: sock.setOption,
    getOption: sock.getOption,
    socketError: sys.socketError,
    localAddress: sock.localAddress,
    peerAddress: sock.peerAddress,
    read: sys.read,
    send: sock.send,
    writev: sock.writev,
    sendTo: sock.sendTo,
    recvFrom: sock.recvFrom,
    describe: sock.describe,
    prepare: sock.prepare,
    close: sys.close,
    unlink: sock.unlink,
  });
}
