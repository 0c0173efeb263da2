/**
 * `@fdloop/mod-net`: sockets on an fdloop runtime. TCP over IPv4 and IPv6, UDP, unix stream and datagram
 * sockets, all on non-blocking descriptors registered with the runtime's backend (no libuv handles, no thread
 * pool). The system calls come from the backend through the contract's `net` extension
 * (`Backend.net`, see `@fdloop/core`), so the same code runs on every POSIX backend that provides them.
 *
 * - {@link NetApi.listen} → {@link Server}, {@link NetApi.connect} → {@link Socket} (with `timeout` and `signal`),
 *   {@link NetApi.udp} / {@link NetApi.unixDatagram} → {@link DatagramSocket}, {@link NetApi.adopt} for a
 *   descriptor created elsewhere.
 * - Errors are Node-shaped `ErrnoError`s (`code: 'ECONNREFUSED'`, `errno`, `syscall: 'connect'`);
 *   timeouts are `TimeoutError`s, writes after close `SocketClosedError`s.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { epoll } from '@fdloop/backend-epoll';
 * import { netModule } from '@fdloop/mod-net';
 *
 * const rt = createRuntime({ backend: epoll() });
 * const net = rt.use(netModule);
 * const server = net.listen({ host: '127.0.0.1', port: 0 }, (socket) => {
 *   socket.handle({ data: (chunk) => socket.write(chunk) }); // echo
 * });
 * const client = await net.connect({ host: '127.0.0.1', port: server.port });
 * client.write('ping');
 * console.log(String(await client.read())); // "ping"
 * client.close();
 * server.close();
 * ```
 *
 * @packageDocumentation
 */

import {
  InvalidArgumentError,
  TimeoutError,
  defineModule,
  errnoError,
  type FdloopModule,
  type ModuleContext,
  type NetSyscalls,
  type Runtime,
} from '@fdloop/core';
import { check, endpoint, netOf, optionalBoolean, optionalTimeout, stateOf } from './common.js';
import { DatagramSocket, openDatagram, type DatagramOptions, type MessageListener } from './datagram.js';
import { Server, listenOn, type ConnectionListener, type ListenOptions } from './server.js';
import { Socket, type SocketOptions } from './socket.js';

export { Socket, type SocketHandlers, type SocketOptions } from './socket.js';
export { Server, type ConnectionListener, type ListenOptions } from './server.js';
export { DatagramSocket, type DatagramOptions, type DatagramTarget, type MessageListener } from './datagram.js';
export { netOf } from './common.js';

/** Options of {@link NetApi.connect}. Give `path` for a unix socket, else `host` and `port`. */
export interface ConnectOptions extends SocketOptions {
  /** IPv4 or IPv6 literal, or `'localhost'`. Defaults to `'127.0.0.1'`. */
  readonly host?: string;
  /** The port (1 to 65535). */
  readonly port?: number;
  /** A unix socket path instead of host and port. */
  readonly path?: string;
  /** Give up after this many milliseconds with a `TimeoutError`; `0` for never. Defaults to `0`. */
  readonly timeout?: number;
  /** Abort the attempt; the promise rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** `TCP_NODELAY`. Defaults to `true`. */
  readonly noDelay?: boolean;
}

/** What {@link NetApi.adopt} returns for each kind of socket. */
export type Adopted = Socket | Server | DatagramSocket;

/**
 * The socket API of one runtime, returned by `rt.use(netModule)`. Everything it opens is closed when the
 * runtime closes.
 */
export class NetApi {
  /** The runtime. */
  readonly runtime: Runtime;
  /** The backend's socket system calls. */
  readonly syscalls: NetSyscalls;

  /** @param runtime - the runtime; its backend must provide `net` (else an `UnsupportedError`). */
  constructor(runtime: Runtime) {
    this.runtime = runtime;
    this.syscalls = netOf(runtime);
  }

  /**
   * Listen for stream connections (TCP or unix).
   * @throws ErrnoError `EADDRINUSE`, `EACCES`… with `syscall: 'bind'` or `'listen'`.
   *
   * @example
   * ```ts
   * const server = net.listen({ port: 8080, reusePort: true }, (socket) => handle(socket));
   * ```
   */
  listen(options: ListenOptions, onConnection: ConnectionListener): Server {
    if (typeof onConnection !== 'function') throw new InvalidArgumentError('onConnection', 'must be a function');
    return listenOn(this.runtime, this.syscalls, options ?? {}, onConnection);
  }

  /**
   * Connect a stream socket (TCP or unix).
   * @throws ErrnoError with `syscall: 'connect'` (`ECONNREFUSED`, `ENOENT` for a missing unix path…);
   *   `TimeoutError` after `timeout`; `signal.reason` when aborted.
   *
   * @example
   * ```ts
   * const socket = await net.connect({ host: '::1', port: 8080, timeout: 1000 });
   * ```
   */
  connect(options: ConnectOptions): Promise<Socket> {
    try {
      return this.startConnect(options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private startConnect(options: ConnectOptions): Promise<Socket> {
    const net = this.syscalls;
    const c = net.constants;
    const ep = endpoint(net, options.host, options.port, options.path, '127.0.0.1', 1);
    const timeout = optionalTimeout('timeout', options.timeout);
    const noDelay = optionalBoolean('noDelay', options.noDelay, true);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const fd = check(net.socket(ep.family, c.SOCK_STREAM), 'socket');
    const rt = this.runtime;
    const done = (): Socket => {
      if (noDelay && ep.family !== c.AF_UNIX) net.setOption(fd, c.IPPROTO_TCP, c.TCP_NODELAY, 1);
      return new Socket(rt, net, fd, options);
    };
    const rc = net.connect(fd, ep.family, ep.address, ep.port);
    if (rc === 0) return Promise.resolve(done());
    if (rc !== -c.EINPROGRESS && rc !== -c.EAGAIN) {
      net.close(fd);
      return Promise.reject(errnoError(rc, 'connect', { fd, address: ep.address, port: ep.port }));
    }
    return new Promise<Socket>((resolve, reject) => {
      const controller = new AbortController();
      let settled = false;
      const timer = timeout > 0 ? rt.setTimeout(() => controller.abort(new TimeoutError('connect', timeout)), timeout) : undefined;
      const onAbort = (): void => controller.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => {
        settled = true;
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
      };
      rt.writable(fd, { signal: controller.signal }).then(
        () => {
          if (settled) return;
          cleanup();
          const err = net.socketError(fd);
          if (err !== 0) {
            net.close(fd);
            reject(errnoError(err, err < 0 ? 'getsockopt' : 'connect', { fd, address: ep.address, port: ep.port }));
            return;
          }
          resolve(done());
        },
        (error: unknown) => {
          if (settled) return;
          cleanup();
          net.close(fd);
          reject(error);
        },
      );
    });
  }

  /**
   * Open a UDP socket bound to `host`/`port` (default `127.0.0.1:0`).
   * @param onMessage - called with each datagram; may be set later with {@link DatagramSocket.onMessage}.
   *
   * @example
   * ```ts
   * const server = net.udp({ port: 0 }, (msg, from, sock) => sock.send(msg, from));
   * ```
   */
  udp(options: DatagramOptions = {}, onMessage?: MessageListener): DatagramSocket {
    return openDatagram(this.runtime, this.syscalls, options, onMessage);
  }

  /** Open a unix datagram socket, bound to `options.path` when given. */
  unixDatagram(options: { readonly path?: string; readonly maxMessageSize?: number } = {}, onMessage?: MessageListener): DatagramSocket {
    return openDatagram(this.runtime, this.syscalls, { ...options, type: 'unix' }, onMessage);
  }

  /**
   * Take over a socket created elsewhere (inherited from a parent, received over a unix socket, opened by a C
   * library): it is made non-blocking and close-on-exec and wrapped by kind — a listening stream socket becomes a
   * {@link Server} (`onConnection` required), a connected stream socket a {@link Socket}, a datagram socket a
   * {@link DatagramSocket}. The descriptor belongs to the returned object from now on.
   * @throws ErrnoError `ENOTSOCK` for a descriptor that is not a socket.
   *
   * @example
   * ```ts
   * const socket = net.adopt(inheritedFd) as Socket;
   * ```
   */
  adopt(fd: number, onConnection?: ConnectionListener): Adopted {
    const net = this.syscalls;
    const c = net.constants;
    const info = new Int32Array(3);
    check(net.describe(fd, info), 'getsockopt', fd);
    check(net.prepare(fd), 'fcntl', fd);
    const [family, type, listening] = info as unknown as [number, number, number];
    if (type === c.SOCK_DGRAM) return new DatagramSocket(this.runtime, net, fd, family, undefined);
    if (type !== c.SOCK_STREAM) throw new InvalidArgumentError('fd', `socket type ${type} is not supported (stream or datagram only)`);
    if (listening === 1) {
      if (typeof onConnection !== 'function') throw new InvalidArgumentError('onConnection', 'is required to adopt a listening socket');
      return new Server(this.runtime, net, fd, onConnection);
    }
    return new Socket(this.runtime, net, fd);
  }
}

/**
 * The net module: `rt.use(netModule)` returns the runtime's {@link NetApi}. Sockets, servers and datagram
 * sockets it opened are closed when the runtime closes.
 *
 * @example
 * ```ts
 * const net = rt.use(netModule);
 * ```
 */
export const netModule: FdloopModule<NetApi> = defineModule('net', (ctx: ModuleContext) => {
  const api = new NetApi(ctx.runtime);
  ctx.onClose(() => {
    for (const item of [...stateOf(ctx.runtime).open]) item.close();
  });
  return api;
});

/**
 * The {@link NetApi} of `rt` (the same as `rt.use(netModule)`).
 *
 * @example
 * ```ts
 * const server = useNet(rt).listen({ port: 0 }, onConnection);
 * ```
 */
export function useNet(rt: Runtime): NetApi {
  return rt.use(netModule);
}
