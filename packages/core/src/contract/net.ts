/**
 * The socket extension of the backend contract: the system calls a backend exposes (as {@link Backend.net}) so
 * that portable socket and HTTP modules (`@fdloop/mod-net`, `@fdloop/mod-http`) can create non-blocking sockets
 * and register them with the same backend's poller. A backend without sockets leaves `net` undefined; the
 * modules then throw an {@link UnsupportedError}.
 *
 * ## Rules
 * 1. **Raw results.** Every function returns a non-negative result or `-errno` (the platform's positive errno,
 *    negated). It never throws for a failing system call; the caller turns `-errno` into an {@link ErrnoError}
 *    with the syscall's name. Arguments are validated by the caller; a backend may throw a `TypeError` or
 *    `RangeError` for malformed ones, never crash.
 * 2. **Every socket it creates or accepts is non-blocking and close-on-exec**, and never raises `SIGPIPE`
 *    (`MSG_NOSIGNAL` or `SO_NOSIGPIPE`): a write to a closed peer fails with `EPIPE`.
 * 3. **Addresses are literals.** `family` is one of {@link NetConstants.AF_INET}, `AF_INET6`, `AF_UNIX`;
 *    `address` an IP literal or a filesystem path; no name resolution happens here (it would block).
 * 4. **No state.** The functions keep nothing between calls, so one object may serve every runtime and thread.
 *
 * @module
 */

/** Platform values a {@link NetSyscalls} implementation was built with. `-1` marks an option the OS lacks. */
export interface NetConstants {
  /** IPv4 address family. */
  readonly AF_INET: number;
  /** IPv6 address family. */
  readonly AF_INET6: number;
  /** Unix-domain address family. */
  readonly AF_UNIX: number;
  /** Stream socket type. */
  readonly SOCK_STREAM: number;
  /** Datagram socket type. */
  readonly SOCK_DGRAM: number;
  /** `shutdown` of the reading side. */
  readonly SHUT_RD: number;
  /** `shutdown` of the writing side (half-close: the peer reads end of file). */
  readonly SHUT_WR: number;
  /** `shutdown` of both sides. */
  readonly SHUT_RDWR: number;
  /** Option level of socket-wide options. */
  readonly SOL_SOCKET: number;
  /** Option level of TCP options. */
  readonly IPPROTO_TCP: number;
  /** Option level of IPv6 options. */
  readonly IPPROTO_IPV6: number;
  /** Allow binding a port with connections in `TIME_WAIT`. */
  readonly SO_REUSEADDR: number;
  /** Let several sockets (threads, processes) listen on one port; the kernel spreads connections. */
  readonly SO_REUSEPORT: number;
  /** TCP keep-alive probes. */
  readonly SO_KEEPALIVE: number;
  /** Allow sending UDP broadcasts. */
  readonly SO_BROADCAST: number;
  /** Receive buffer size. */
  readonly SO_RCVBUF: number;
  /** Send buffer size. */
  readonly SO_SNDBUF: number;
  /** Disable Nagle's algorithm. */
  readonly TCP_NODELAY: number;
  /** Idle seconds before the first keep-alive probe (`TCP_KEEPALIVE` on macOS). */
  readonly TCP_KEEPIDLE: number;
  /** Seconds between keep-alive probes. */
  readonly TCP_KEEPINTVL: number;
  /** Unanswered probes before the connection is dropped. */
  readonly TCP_KEEPCNT: number;
  /** An IPv6 socket accepts IPv6 only (no IPv4-mapped addresses). */
  readonly IPV6_V6ONLY: number;
  /** The positive errno a non-blocking connect returns (negated) while it completes in the background. */
  readonly EINPROGRESS: number;
  /** The positive errno of "would block". */
  readonly EAGAIN: number;
  /** The most buffers one {@link NetSyscalls.writev} call sends. */
  readonly IOV_MAX: number;
}

/** An address as the kernel reports it, with Node's family names. A unix address has `port` 0. */
export interface SocketAddressInfo {
  /** `'IPv4'`, `'IPv6'` or `'unix'` (`'unknown'` for other families). */
  family: string;
  /** The IP literal, or the unix path (`''` for an unnamed unix socket). */
  address: string;
  /** The port; `0` for unix sockets. */
  port: number;
}

/**
 * Socket system calls of a backend. See the module documentation for the rules every function follows
 * (raw `-errno` results, non-blocking close-on-exec sockets, no `SIGPIPE`, literal addresses).
 */
export interface NetSyscalls {
  /** The platform's constants. */
  readonly constants: NetConstants;
  /** `socket(family, type)` → descriptor. */
  socket(family: number, type: number): number;
  /** `bind` to an IP literal and port, or to a unix path (port ignored) → 0. */
  bind(fd: number, family: number, address: string, port: number): number;
  /** `listen(fd, backlog)` → 0. */
  listen(fd: number, backlog: number): number;
  /** `accept` → the new non-blocking, close-on-exec descriptor; `-EAGAIN` when none is pending. */
  accept(fd: number): number;
  /**
   * Start connecting → 0 when connected at once, `-EINPROGRESS` when the connection completes later (wait for
   * writable, then read {@link NetSyscalls.socketError}), or another `-errno`.
   */
  connect(fd: number, family: number, address: string, port: number): number;
  /** `shutdown(fd, how)` → 0. */
  shutdown(fd: number, how: number): number;
  /** Set an integer socket option → 0. */
  setOption(fd: number, level: number, name: number, value: number): number;
  /** Read an integer socket option into `out[0]` → 0. */
  getOption(fd: number, level: number, name: number, out: Int32Array): number;
  /** The pending `SO_ERROR` (0 or a positive errno, which it clears), or `-errno` if it cannot be read. */
  socketError(fd: number): number;
  /** `getsockname` into `out` → 0. */
  localAddress(fd: number, out: SocketAddressInfo): number;
  /** `getpeername` into `out` → 0 (`-ENOTCONN` when not connected). */
  peerAddress(fd: number, out: SocketAddressInfo): number;
  /** `read(2)` into `buffer[offset, offset + length)` → bytes, 0 at end of stream. */
  read(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  /** `send(2)` of `buffer[offset, offset + length)` → bytes sent. */
  send(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  /**
   * Gathered write: `buffers[first]` from byte `offset`, then the following buffers, at most
   * {@link NetConstants.IOV_MAX} of them, in one system call → bytes sent.
   */
  writev(fd: number, buffers: readonly Uint8Array[], first: number, offset: number): number;
  /** Send one datagram to an address → bytes sent. */
  sendTo(fd: number, buffer: Uint8Array, offset: number, length: number, family: number, address: string, port: number): number;
  /** Receive one datagram, its sender written into `out` → bytes (a longer datagram is truncated). */
  recvFrom(fd: number, buffer: Uint8Array, offset: number, length: number, out: SocketAddressInfo): number;
  /** For `adopt(fd)`: `out = [family, type, listening ? 1 : 0]` → 0 (`-ENOTSOCK` for a non-socket). */
  describe(fd: number, out: Int32Array): number;
  /** Make an adopted descriptor non-blocking and close-on-exec (and `SO_NOSIGPIPE` where needed) → 0. */
  prepare(fd: number): number;
  /** `close(2)` → 0. */
  close(fd: number): number;
  /** `unlink(2)` of a path (a stale unix socket) → 0. */
  unlink(path: string): number;
}
