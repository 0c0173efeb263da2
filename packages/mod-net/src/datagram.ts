/**
 * {@link DatagramSocket}: UDP (IPv4/IPv6) and unix datagram sockets.
 *
 * @module
 */

import { Interest, InvalidArgumentError, describeReceived, SocketClosedError, errnoError, type NetSyscalls, type Runtime, type SocketAddressInfo, type Watcher } from '@fdloop/core';
import { check, checkAt, endpoint, integer, optionalBoolean, stateOf, type NetState } from './common.js';

/** Called with each datagram received: a copy of its bytes and the sender's address. */
export type MessageListener = (message: Buffer, from: SocketAddressInfo, socket: DatagramSocket) => void;

/** Options of `udp()` / `unixDatagram()`. */
export interface DatagramOptions {
  /** `'udp4'`, `'udp6'` or `'unix'`. Defaults to `'udp4'` (or `'unix'` when `path` is given). */
  readonly type?: 'udp4' | 'udp6' | 'unix';
  /** Address to bind. Defaults to `'127.0.0.1'` for udp4 and `'::1'` for udp6. */
  readonly host?: string;
  /** Port to bind; `0` lets the kernel choose. Defaults to `0`. */
  readonly port?: number;
  /** For `'unix'`: the path to bind (needed to receive replies). Unbound unix sockets can only send. */
  readonly path?: string;
  /** `SO_REUSEADDR`. Defaults to `false`. */
  readonly reuseAddr?: boolean;
  /** `SO_BROADCAST`. Defaults to `false`. */
  readonly broadcast?: boolean;
  /** Largest datagram received; longer ones are truncated. Defaults to `65536`. */
  readonly maxMessageSize?: number;
}

/** Where {@link DatagramSocket.send} sends: an IP literal and port, or a unix path. */
export interface DatagramTarget {
  /** IP literal (`'localhost'` means `127.0.0.1`). */
  readonly host?: string;
  /** Port. */
  readonly port?: number;
  /** Unix socket path. */
  readonly path?: string;
}

/**
 * A datagram socket. Every datagram is delivered as a copy to the message listener. Sending is non-blocking:
 * {@link DatagramSocket.send} returns `false` when the kernel's buffer is full and the datagram was not sent
 * (datagrams are not queued: UDP may drop them anyway).
 *
 * @example
 * ```ts
 * const a = net.udp({ port: 0 }, (msg, from) => console.log(msg.toString(), from.port));
 * const b = net.udp({});
 * b.send('hi', { host: '127.0.0.1', port: a.port });
 * ```
 */
export class DatagramSocket {
  /** The descriptor. */
  readonly fd: number;
  /** The runtime it is registered with. */
  readonly runtime: Runtime;
  /** The bound port (`0` for unix). */
  readonly port: number;

  private readonly net: NetSyscalls;
  private readonly state: NetState;
  private readonly family: number;
  private readonly eagain: number;
  private readonly maxMessageSize: number;
  private listener: MessageListener | undefined;
  private watcher: Watcher | undefined;
  private isClosed = false;
  private path: string | undefined;

  /** Wrap a bound non-blocking datagram socket. Prefer `udp()`, `unixDatagram()` or `adopt()`. */
  constructor(runtime: Runtime, net: NetSyscalls, fd: number, family: number, listener: MessageListener | undefined, maxMessageSize = 65536) {
    this.runtime = runtime;
    this.net = net;
    this.fd = fd;
    this.family = family;
    this.state = stateOf(runtime);
    this.eagain = -net.constants.EAGAIN;
    this.maxMessageSize = integer('maxMessageSize', maxMessageSize, 1, 65536);
    const local = this.address();
    this.port = local.port;
    if (local.family === 'unix' && local.address !== '') this.path = local.address;
    this.state.open.add(this);
    this.listener = listener;
    if (listener !== undefined) this.watcher = runtime.watch(fd, Interest.READABLE, this.onReadable);
  }

  /** Whether the socket is closed. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** The bound address. */
  address(): SocketAddressInfo {
    const out: SocketAddressInfo = { family: '', address: '', port: 0 };
    check(this.net.localAddress(this.fd, out), 'getsockname', this.fd);
    return out;
  }

  /** Set (or replace) the message listener; receiving starts with the first one. */
  onMessage(listener: MessageListener): void {
    this.listener = listener;
    if (this.watcher === undefined && !this.isClosed) this.watcher = this.runtime.watch(this.fd, Interest.READABLE, this.onReadable);
  }

  /**
   * Send one datagram.
   * @returns `true` when sent, `false` when the socket's send buffer is full (`EAGAIN`; nothing was sent).
   * @throws ErrnoError for other failures (`EMSGSIZE`, `ECONNREFUSED` from an earlier ICMP error…).
   */
  send(data: Uint8Array | string, to: DatagramTarget): boolean {
    if (this.isClosed) throw new SocketClosedError('send after close');
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(buf instanceof Uint8Array)) throw new InvalidArgumentError('data', 'must be a string, Buffer or Uint8Array');
    if (to === null || typeof to !== 'object') throw new InvalidArgumentError('to', 'must be { host, port } or { path }');
    const dflt = this.family === this.net.constants.AF_INET6 ? '::1' : '127.0.0.1';
    const ep = endpoint(this.net, to.host, to.port, to.path, dflt, 1);
    const n = this.net.sendTo(this.fd, buf, 0, buf.byteLength, ep.family, ep.address, ep.port);
    if (n >= 0) return true;
    if (n === this.eagain) return false;
    throw errnoError(n, 'sendto', { fd: this.fd });
  }

  /** Close the socket (a bound unix path is removed). Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.watcher?.close();
    this.watcher = undefined;
    this.state.open.delete(this);
    this.net.close(this.fd);
    if (this.path !== undefined) this.net.unlink(this.path);
  }

  /** Stop this socket from keeping the runtime alive. */
  unref(): this {
    this.watcher?.unref();
    return this;
  }

  private readonly onReadable = (): void => {
    const buffer = this.state.readBuffer;
    // Bounded: a flood of datagrams must not starve the other descriptors.
    for (let i = 0; i < 64 && !this.isClosed; i++) {
      const from: SocketAddressInfo = { family: '', address: '', port: 0 };
      const n = this.net.recvFrom(this.fd, buffer, 0, this.maxMessageSize, from);
      if (n < 0) {
        if (n === this.eagain) return;
        throw errnoError(n, 'recvfrom', { fd: this.fd });
      }
      this.listener?.(Buffer.from(buffer.subarray(0, n)), from, this);
    }
  };
}

/** Create and bind a datagram socket. */
export function openDatagram(runtime: Runtime, net: NetSyscalls, options: DatagramOptions, listener: MessageListener | undefined): DatagramSocket {
  const c = net.constants;
  const type = options.type ?? (options.path !== undefined ? 'unix' : 'udp4');
  if (type !== 'udp4' && type !== 'udp6' && type !== 'unix') throw new InvalidArgumentError('type', `must be 'udp4', 'udp6' or 'unix', got ${describeReceived(type)}`);
  const family = type === 'unix' ? c.AF_UNIX : type === 'udp6' ? c.AF_INET6 : c.AF_INET;
  const fd = check(net.socket(family, c.SOCK_DGRAM), 'socket');
  try {
    if (optionalBoolean('reuseAddr', options.reuseAddr, false)) check(net.setOption(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1), 'setsockopt', fd);
    if (optionalBoolean('broadcast', options.broadcast, false)) check(net.setOption(fd, c.SOL_SOCKET, c.SO_BROADCAST, 1), 'setsockopt', fd);
    if (type === 'unix') {
      if (options.path !== undefined) {
        const ep = endpoint(net, undefined, undefined, options.path, '', 0);
        checkAt(net.bind(fd, ep.family, ep.address, 0), 'bind', fd, ep.address, 0);
      }
    } else {
      const ep = endpoint(net, options.host, options.port, undefined, type === 'udp6' ? '::1' : '127.0.0.1', 0);
      if (ep.family !== family) throw new InvalidArgumentError('host', `${ep.address} is not an address of ${type}`);
      checkAt(net.bind(fd, ep.family, ep.address, ep.port), 'bind', fd, ep.address, ep.port);
    }
    return new DatagramSocket(runtime, net, fd, family, listener, options.maxMessageSize);
  } catch (error) {
    net.close(fd);
    throw error;
  }
}
