/**
 * Shared internals: argument checks, address parsing and the per-runtime state of the module.
 *
 * @module
 */

import { isIP } from 'node:net';
import { InvalidArgumentError, describeReceived, UnsupportedError, errnoError, type NetSyscalls, type Runtime } from '@fdloop/core';

/** The net syscalls of a runtime's backend, or an `UnsupportedError` naming the backend. */
export function netOf(rt: Runtime): NetSyscalls {
  const net = rt.backend.net;
  if (net === undefined) {
    throw new UnsupportedError(rt.backend.name, 'sockets', 'the backend has no `net` system calls (see @fdloop/core contract/net.ts)');
  }
  return net;
}

/** Throws an ErrnoError when `rc` is negative. */
export function check(rc: number, syscall: string, fd?: number): number {
  if (rc < 0) throw errnoError(rc, syscall, fd === undefined ? undefined : { fd });
  return rc;
}

/** Throws an ErrnoError naming the address (`bind EADDRINUSE 127.0.0.1:8080`) when `rc` is negative. */
export function checkAt(rc: number, syscall: string, fd: number, address: string, port: number): number {
  if (rc < 0) throw errnoError(rc, syscall, { fd, address, port });
  return rc;
}

export function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}, got ${describeReceived(value)}`);
  }
  return value;
}

export function optionalInteger(name: string, value: unknown, min: number, max: number, dflt: number): number {
  return value === undefined ? dflt : integer(name, value, min, max);
}

export function optionalBoolean(name: string, value: unknown, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(name, `must be a boolean, got ${describeReceived(value)}`);
  return value;
}

/** A timeout in milliseconds: a finite number > 0, or 0 / undefined for none. */
export function optionalTimeout(name: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(name, `must be a finite number of milliseconds >= 0, got ${describeReceived(value)}`);
  }
  return value;
}

/** A resolved socket address: kernel family number, literal or path, port. */
export interface Endpoint {
  readonly family: number;
  readonly address: string;
  readonly port: number;
}

/**
 * An IP literal (v4 or v6) and port, or a unix path. `localhost` is accepted as `127.0.0.1`; other host names are
 * refused (resolving would block; resolve them first with `node:dns`).
 */
export function endpoint(net: NetSyscalls, host: unknown, port: unknown, path: unknown, dfltHost: string, minPort: number): Endpoint {
  if (path !== undefined) {
    if (typeof path !== 'string' || path === '' || path.includes('\0')) {
      throw new InvalidArgumentError('path', `must be a non-empty path without NUL bytes, got ${describeReceived(path)}`);
    }
    if (Buffer.byteLength(path) > 103) throw new InvalidArgumentError('path', `is too long for a unix socket (at most 103 bytes): ${path}`);
    return { family: net.constants.AF_UNIX, address: path, port: 0 };
  }
  let h = host === undefined ? dfltHost : host;
  if (h === 'localhost') h = '127.0.0.1';
  const kind = typeof h === 'string' ? isIP(h) : 0;
  if (kind === 0 || (h as string).includes('%')) {
    throw new InvalidArgumentError('host', `must be an IPv4 or IPv6 address literal (or 'localhost'), got ${describeReceived(h)}`);
  }
  const p = integer('port', port ?? 0, minPort, 65535);
  return { family: kind === 4 ? net.constants.AF_INET : net.constants.AF_INET6, address: h as string, port: p };
}

/** Per-runtime state: the shared read buffer and everything open, closed when the runtime closes. */
export interface NetState {
  readonly readBuffer: Buffer;
  readonly open: Set<{ close(): void }>;
}

const states = new WeakMap<Runtime, NetState>();

/** The state of `rt`, created on first use. */
export function stateOf(rt: Runtime): NetState {
  let s = states.get(rt);
  if (s === undefined) {
    // One read buffer per runtime: data handlers get a view of it that is valid only during the call, so no
    // allocation happens per read. 64 KiB is what libuv reads at once too.
    s = { readBuffer: Buffer.allocUnsafe(64 * 1024), open: new Set() };
    states.set(rt, s);
  }
  return s;
}
