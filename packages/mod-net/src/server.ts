/**
 * {@link Server}: a listening stream socket (TCP or unix) that accepts connections as {@link Socket}s.
 *
 * @module
 */

import { Interest, errnoError, systemErrno, type NetSyscalls, type Runtime, type SocketAddressInfo, type Watcher } from '@fdloop/core';
import { check, checkAt, endpoint, optionalBoolean, optionalInteger, stateOf, type NetState } from './common.js';
import { Socket, type SocketOptions } from './socket.js';

/** Options of `listen()`. Give `path` for a unix socket, else `host` and `port`. */
export interface ListenOptions extends SocketOptions {
  /** An IPv4 or IPv6 literal to bind (`'::'` listens on both families unless `ipv6Only`). Defaults to `'127.0.0.1'`. */
  readonly host?: string;
  /** The port; `0` lets the kernel choose (read it from {@link Server.port}). Defaults to `0`. */
  readonly port?: number;
  /** A unix socket path instead of host and port. */
  readonly path?: string;
  /** Remove an existing file at `path` before binding (a stale socket from an earlier run). Defaults to `false`. */
  readonly unlinkPath?: boolean;
  /** Length of the queue of connections not yet accepted. Defaults to `511`, as in Node. */
  readonly backlog?: number;
  /** `SO_REUSEADDR` (bind although old connections linger in `TIME_WAIT`). TCP only. Defaults to `true`. */
  readonly reuseAddr?: boolean;
  /**
   * `SO_REUSEPORT`: several sockets, in other threads or processes, listen on the same port and the kernel spreads
   * new connections over them. This is how N worker threads share one port. Defaults to `false`.
   */
  readonly reusePort?: boolean;
  /** An IPv6 listener accepts IPv6 only. Defaults to `false`. */
  readonly ipv6Only?: boolean;
  /** Set `TCP_NODELAY` on every accepted TCP connection. Defaults to `true` (request/response protocols want it). */
  readonly noDelay?: boolean;
  /** Most connections accepted per readiness event before other descriptors get a turn. Defaults to `64`. */
  readonly acceptBatch?: number;
}

/** Called with each accepted connection; set its handlers before returning. */
export type ConnectionListener = (socket: Socket, server: Server) => void;

/**
 * A listening socket. Connections are accepted in batches when the listener is readable and handed to the
 * connection listener. When the process runs out of descriptors (`EMFILE`), accepting pauses for 100 ms
 * instead of spinning, and the error goes to the runtime's `onError` once.
 *
 * @example
 * ```ts
 * const server = net.listen({ port: 0 }, (socket) => {
 *   socket.handle({ data: (chunk) => socket.write(chunk) }); // echo
 * });
 * console.log(server.port);
 * ```
 */
export class Server {
  /** The listening descriptor. */
  readonly fd: number;
  /** The runtime it is registered with. */
  readonly runtime: Runtime;
  /** The bound port (`0` for a unix socket). */
  readonly port: number;
  /** The unix path, if any. */
  readonly path: string | undefined;

  private readonly net: NetSyscalls;
  private readonly state: NetState;
  private readonly socketOptions: SocketOptions;
  private readonly noDelay: boolean;
  private readonly acceptBatch: number;
  private readonly eagain: number;
  private listener: ConnectionListener;
  private watcher: Watcher | undefined;
  private isClosed = false;
  private refd = true;
  private backoff: ReturnType<Runtime['setTimeout']> | undefined;
  private isTcp: boolean;

  /** Wrap a bound, listening, non-blocking descriptor. Prefer `listen()` or `adopt()`. */
  constructor(runtime: Runtime, net: NetSyscalls, fd: number, listener: ConnectionListener, options: ListenOptions = {}) {
    this.runtime = runtime;
    this.net = net;
    this.fd = fd;
    this.listener = listener;
    this.state = stateOf(runtime);
    this.eagain = -net.constants.EAGAIN;
    this.socketOptions = { allowHalfOpen: options.allowHalfOpen, highWaterMark: options.highWaterMark };
    this.acceptBatch = optionalInteger('acceptBatch', options.acceptBatch, 1, 65536, 64);
    const addr = this.address();
    this.port = addr.port;
    this.path = addr.family === 'unix' ? addr.address : undefined;
    this.isTcp = addr.family === 'IPv4' || addr.family === 'IPv6';
    this.noDelay = this.isTcp && optionalBoolean('noDelay', options.noDelay, true);
    this.state.open.add(this);
    this.watcher = runtime.watch(fd, Interest.READABLE, this.onReadable);
  }

  /** Whether {@link Server.close} was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** The bound address. */
  address(): SocketAddressInfo {
    const out: SocketAddressInfo = { family: '', address: '', port: 0 };
    check(this.net.localAddress(this.fd, out), 'getsockname', this.fd);
    return out;
  }

  /** Replace the connection listener. */
  onConnection(listener: ConnectionListener): void {
    this.listener = listener;
  }

  /** Stop listening and close the descriptor (a unix path is removed). Accepted sockets stay open. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.watcher?.close();
    this.watcher = undefined;
    this.backoff?.cancel();
    this.state.open.delete(this);
    this.net.close(this.fd);
    if (this.path !== undefined && this.path !== '') this.net.unlink(this.path);
  }

  /** Stop the listener from keeping the runtime alive. */
  unref(): this {
    this.refd = false;
    this.watcher?.unref();
    return this;
  }

  /** Keep the runtime alive while listening (the default). */
  ref(): this {
    this.refd = true;
    this.watcher?.ref();
    return this;
  }

  private readonly onReadable = (): void => {
    const net = this.net;
    for (let i = 0; i < this.acceptBatch && !this.isClosed; i++) {
      const fd = net.accept(this.fd);
      if (fd < 0) {
        if (fd === this.eagain) return;
        const error = errnoError(fd, 'accept', { fd: this.fd });
        if (error.code === 'ECONNABORTED' || error.code === 'EINTR') continue;
        if (error.code === 'EMFILE' || error.code === 'ENFILE' || error.code === 'ENOBUFS' || error.code === 'ENOMEM') {
          // Out of descriptors: a level-triggered listener would report the same pending connection forever.
          // Stop watching for a moment and let connections close.
          this.watcher?.close();
          this.watcher = undefined;
          this.backoff = this.runtime.setTimeout(() => {
            this.backoff = undefined;
            if (this.isClosed) return;
            this.watcher = this.runtime.watch(this.fd, Interest.READABLE, this.onReadable);
            if (!this.refd) this.watcher.unref();
          }, 100);
        }
        throw error;
      }
      if (this.noDelay) net.setOption(fd, net.constants.IPPROTO_TCP, net.constants.TCP_NODELAY, 1);
      const socket = new Socket(this.runtime, net, fd, this.socketOptions);
      try {
        this.listener(socket, this);
      } catch (error) {
        // A listener that throws cannot have set the socket up: close it rather than leak it, then report.
        socket.destroy(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    }
  };
}

/** Create, bind and listen. See {@link ListenOptions}. */
export function listenOn(runtime: Runtime, net: NetSyscalls, options: ListenOptions, listener: ConnectionListener): Server {
  const ep = endpoint(net, options.host, options.port, options.path, '127.0.0.1', 0);
  const backlog = optionalInteger('backlog', options.backlog, 0, 0x7fffffff, 511);
  const c = net.constants;
  const reuseAddr = optionalBoolean('reuseAddr', options.reuseAddr, true);
  const reusePort = optionalBoolean('reusePort', options.reusePort, false);
  const ipv6Only = optionalBoolean('ipv6Only', options.ipv6Only, false);
  if (ep.family === c.AF_UNIX && optionalBoolean('unlinkPath', options.unlinkPath, false)) net.unlink(ep.address);
  const fd = check(net.socket(ep.family, c.SOCK_STREAM), 'socket');
  try {
    if (ep.family !== c.AF_UNIX) {
      if (reuseAddr) check(net.setOption(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1), 'setsockopt', fd);
      if (reusePort) {
        if (c.SO_REUSEPORT < 0) throw errnoError(systemErrno('EOPNOTSUPP', 'ENOTSUP'), 'setsockopt', { fd, message: 'SO_REUSEPORT is not available here' });
        check(net.setOption(fd, c.SOL_SOCKET, c.SO_REUSEPORT, 1), 'setsockopt', fd);
      }
      if (ep.family === c.AF_INET6) check(net.setOption(fd, c.IPPROTO_IPV6, c.IPV6_V6ONLY, ipv6Only ? 1 : 0), 'setsockopt', fd);
    }
    checkAt(net.bind(fd, ep.family, ep.address, ep.port), 'bind', fd, ep.address, ep.port);
    checkAt(net.listen(fd, backlog), 'listen', fd, ep.address, ep.port);
    return new Server(runtime, net, fd, listener, options);
  } catch (error) {
    net.close(fd);
    throw error;
  }
}
