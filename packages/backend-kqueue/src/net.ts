/**
 * The socket system calls of the kqueue backend ({@link Backend.net}): the native `sock` functions the addon shares
 * with `@fdloop/backend-epoll` (`native/posix/sock.cc`, portable by design) plus `read`, `close` and `SO_ERROR`
 * from the shared `sys` functions (`native/posix/sys.cc`). They return raw `-errno` results as the contract in
 * `@fdloop/core` (`contract/net.ts`) describes; the portable socket API that throws {@link ErrnoError}s is
 * `@fdloop/mod-net`.
 *
 * @module
 */

import type { NetSyscalls } from '@fdloop/core';
import type { NativeBinding } from './native.js';

/**
 * Build the {@link NetSyscalls} of a loaded addon. The native functions are passed through untouched (no wrapper
 * per call): they validate their own arguments and never throw for a failing system call. The same assembly as
 * backend-epoll's `createNet`, over this addon's copy of the same native functions.
 */
export function createNet(binding: NativeBinding): NetSyscalls {
  const { sock, sys } = binding;
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
