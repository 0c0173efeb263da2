/**
 * The socket system calls of the epoll backend ({@link Backend.net}): the native `sock` functions of the addon
 * (`native/posix/sock.cc`, shared with the other POSIX backends) plus `read`, `close` and `SO_ERROR` from `sys`.
 * They return raw `-errno` results as the contract in `@fdloop/core` (`contract/net.ts`) describes; the
 * portable socket API that throws {@link ErrnoError}s is `@fdloop/mod-net`.
 *
 * @module
 */

import type { NetConstants, NetSyscalls } from '@fdloop/core';
import type { NativeBinding } from './native.js';

/** The native `sock` object of the addon: {@link NetSyscalls} without the functions that live in `sys`. */
type NativeSock = Omit<NetSyscalls, 'read' | 'close' | 'socketError'> & { readonly constants: NetConstants };

/**
 * Build the {@link NetSyscalls} of a loaded addon. The native functions are passed through untouched (no wrapper
 * per call): they validate their own arguments and never throw for a failing system call.
 */
export function createNet(binding: NativeBinding): NetSyscalls {
  const sock = (binding as NativeBinding & { readonly sock?: NativeSock }).sock;
  if (sock === undefined) {
    throw new Error('@fdloop/backend-epoll: the native addon has no socket functions; rebuild it (npm rebuild @fdloop/backend-epoll)');
  }
  const { sys } = binding;
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
