/**
 * The socket system calls of the IOCP backend ({@link Backend.net}, the contract in `@fdloop/core`'s
 * `contract/net.ts`), on Winsock: the addon's `net` functions (`native/net.cc`) with their Windows error codes
 * turned into Node's errno numbers for Windows, so that `-net.constants.EAGAIN` is exactly what a would-block
 * returns and an `ErrnoError` built from any result reads `EAGAIN`, `ECONNRESET`… as Node's own errors do.
 *
 * Windows specifics: sockets are non-blocking (`FIONBIO`) and not inherited by child processes; there is no
 * `SIGPIPE` to suppress. `SO_REUSEPORT` is `-1` (Windows has none). Setting `SO_REUSEADDR` is accepted and does
 * nothing: Windows' option of that name lets another socket take over a port in use, while the POSIX meaning
 * (binding a port with connections in `TIME_WAIT`) is Windows' default behaviour. `read` is `recv`.
 * A would-block seen by these functions is also what re-arms an edge-triggered registration (see the README).
 *
 * @module
 */

import { constants as osConstants } from 'node:os';
import type { NetConstants, NetSyscalls, SocketAddressInfo } from '@fdloop/core';
import { errnoOf } from './errors.js';
import type { NativeBinding, NativeNet } from './native.js';

/**
 * `EINPROGRESS`: libuv, and so Node, has no number for it, so `connect`'s "in progress" uses the C runtime's
 * (`errno.h`: 112, also `os.constants.errno.EINPROGRESS` on Windows), which no libuv error shares (those are all
 * below -4000 on Windows). Nothing else returns it.
 */
const EINPROGRESS = (osConstants.errno as Record<string, number | undefined>).EINPROGRESS ?? 112;

/**
 * Build the {@link NetSyscalls} of a loaded addon. Successful results pass through untouched; a failure's
 * Win32/WSA code becomes minus Node's (positive) errno for it.
 */
export function createNet(binding: NativeBinding): NetSyscalls {
  const n: NativeNet = binding.net;
  const name = binding.sys.errorName;
  const cache = new Map<number, number>();
  // -code (Win32/WSA) → -errno (Node's positive number on Windows, negated).
  const errno = (code: number): number => {
    let e = cache.get(code);
    if (e === undefined) {
      e = errnoOf(name(code));
      cache.set(code, e);
    }
    return e;
  };
  const wouldBlock = -n.constants.WSAEWOULDBLOCK;
  const EAGAIN = errnoOf('EAGAIN');
  const map = (rc: number): number => (rc >= 0 ? rc : rc === wouldBlock ? EAGAIN : errno(-rc));
  const inProgress = -n.constants.WSAEINPROGRESS;
  const constants: NetConstants = Object.freeze({
    AF_INET: n.constants.AF_INET,
    AF_INET6: n.constants.AF_INET6,
    AF_UNIX: n.constants.AF_UNIX,
    SOCK_STREAM: n.constants.SOCK_STREAM,
    SOCK_DGRAM: n.constants.SOCK_DGRAM,
    SHUT_RD: n.constants.SHUT_RD,
    SHUT_WR: n.constants.SHUT_WR,
    SHUT_RDWR: n.constants.SHUT_RDWR,
    SOL_SOCKET: n.constants.SOL_SOCKET,
    IPPROTO_TCP: n.constants.IPPROTO_TCP,
    IPPROTO_IPV6: n.constants.IPPROTO_IPV6,
    SO_REUSEADDR: n.constants.SO_REUSEADDR,
    SO_REUSEPORT: n.constants.SO_REUSEPORT,
    SO_KEEPALIVE: n.constants.SO_KEEPALIVE,
    SO_BROADCAST: n.constants.SO_BROADCAST,
    SO_RCVBUF: n.constants.SO_RCVBUF,
    SO_SNDBUF: n.constants.SO_SNDBUF,
    TCP_NODELAY: n.constants.TCP_NODELAY,
    TCP_KEEPIDLE: n.constants.TCP_KEEPIDLE,
    TCP_KEEPINTVL: n.constants.TCP_KEEPINTVL,
    TCP_KEEPCNT: n.constants.TCP_KEEPCNT,
    IPV6_V6ONLY: n.constants.IPV6_V6ONLY,
    EINPROGRESS,
    EAGAIN: -EAGAIN,
    IOV_MAX: n.constants.IOV_MAX,
  });
  return Object.freeze({
    constants,
    socket: (family: number, type: number) => map(n.socket(family, type)),
    bind: (fd: number, family: number, address: string, port: number) => map(n.bind(fd, family, address, port)),
    listen: (fd: number, backlog: number) => map(n.listen(fd, backlog)),
    accept: (fd: number) => map(n.accept(fd)),
    connect: (fd: number, family: number, address: string, port: number) => {
      const rc = n.connect(fd, family, address, port);
      return rc === inProgress ? -EINPROGRESS : map(rc);
    },
    shutdown: (fd: number, how: number) => map(n.shutdown(fd, how)),
    setOption: (fd: number, level: number, opt: number, value: number) => map(n.setOption(fd, level, opt, value)),
    getOption: (fd: number, level: number, opt: number, out: Int32Array) => map(n.getOption(fd, level, opt, out)),
    // SO_ERROR holds a positive WSA code: it becomes Node's positive errno.
    socketError: (fd: number) => {
      const rc = n.socketError(fd);
      return rc > 0 ? -errno(rc) : map(rc);
    },
    localAddress: (fd: number, out: SocketAddressInfo) => map(n.localAddress(fd, out)),
    peerAddress: (fd: number, out: SocketAddressInfo) => map(n.peerAddress(fd, out)),
    read: (fd: number, buffer: Uint8Array, offset: number, length: number) => map(n.read(fd, buffer, offset, length)),
    send: (fd: number, buffer: Uint8Array, offset: number, length: number) => map(n.send(fd, buffer, offset, length)),
    writev: (fd: number, buffers: readonly Uint8Array[], first: number, offset: number) => map(n.writev(fd, buffers, first, offset)),
    sendTo: (fd: number, buffer: Uint8Array, offset: number, length: number, family: number, address: string, port: number) =>
      map(n.sendTo(fd, buffer, offset, length, family, address, port)),
    recvFrom: (fd: number, buffer: Uint8Array, offset: number, length: number, out: SocketAddressInfo) =>
      map(n.recvFrom(fd, buffer, offset, length, out)),
    describe: (fd: number, out: Int32Array) => map(n.describe(fd, out)),
    prepare: (fd: number) => map(n.prepare(fd)),
    close: (fd: number) => map(n.close(fd)),
    unlink: (path: string) => map(n.unlink(path)),
  });
}
