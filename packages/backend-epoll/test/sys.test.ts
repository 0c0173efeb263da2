// Tests of the sys helpers on real descriptors: results, WOULD_BLOCK, EOF, errors and argument validation.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { ErrnoError, InvalidArgumentError } from '@fdloop/core';
import { afterEach, describe, expect, it } from 'vitest';
import { loadNative } from '../src/native.js';
import * as sysModule from '../src/sys.js';
import { sys } from '../src/index.js';

const fds: number[] = [];

afterEach(() => {
  for (const fd of fds.splice(0)) {
    try {
      sys.close(fd);
    } catch (error) {
      // A test may have closed it already to provoke an error; any other failure is real.
      if (!(error instanceof ErrnoError && error.code === 'EBADF')) throw error;
    }
  }
});

function track<T extends number[]>(...created: T): T {
  fds.push(...created);
  return created;
}

function errnoOf(name: string): number {
  return -(constants.errno as Record<string, number>)[name]!;
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an exception');
}

function expectErrno(fn: () => unknown, code: string, syscall: string, fd?: number): void {
  const error = caught(fn);
  expect(error).toBeInstanceOf(ErrnoError);
  expect(error).toMatchObject({ code, errno: errnoOf(code), syscall, ...(fd === undefined ? {} : { fd }) });
}

/** The open flags of a descriptor, from /proc. */
function openFlags(fd: number): number {
  const match = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return Number.parseInt(match?.[1] ?? '0', 8);
}

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

function expectNonBlockingCloexec(fd: number): void {
  const flags = openFlags(fd);
  expect(flags & O_NONBLOCK).toBe(O_NONBLOCK);
  expect(flags & O_CLOEXEC).toBe(O_CLOEXEC);
}

async function retry<T>(attempt: () => T | typeof sys.WOULD_BLOCK): Promise<T> {
  for (let i = 0; i < 2000; i++) {
    const result = attempt();
    if (result !== sys.WOULD_BLOCK) return result as T;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error('still WOULD_BLOCK after 2 s');
}

describe('exports', () => {
  it('sys is the sys module, also re-exported by name', async () => {
    const index = await import('../src/index.js');
    expect(index.sys).toEqual(sysModule);
    expect(index.pipe).toBe(sysModule.pipe);
    expect(index.WOULD_BLOCK).toBe(-1);
  });

  it('constants match the C headers the addon was built with', () => {
    const native = loadNative().sys.constants;
    expect(sys.MSG_OOB).toBe(native.MSG_OOB);
    expect(sys.MSG_PEEK).toBe(native.MSG_PEEK);
    expect(sys.MSG_DONTWAIT).toBe(native.MSG_DONTWAIT);
    expect(native.EAGAIN).toBe(constants.errno.EAGAIN);
    expect(native.EWOULDBLOCK).toBe(native.EAGAIN);
    expect(sys.PTY_PACKET).toEqual({
      DATA: native.TIOCPKT_DATA,
      FLUSHREAD: native.TIOCPKT_FLUSHREAD,
      FLUSHWRITE: native.TIOCPKT_FLUSHWRITE,
      STOP: native.TIOCPKT_STOP,
      START: native.TIOCPKT_START,
      NOSTOP: native.TIOCPKT_NOSTOP,
      DOSTOP: native.TIOCPKT_DOSTOP,
    });
  });
});

describe('pipe, read, write', () => {
  it('creates a non-blocking, close-on-exec pipe', () => {
    const [r, w] = track(...sys.pipe());
    expectNonBlockingCloexec(r);
    expectNonBlockingCloexec(w);
  });

  it('round-trips data, returns WOULD_BLOCK when empty and 0 at end of file', () => {
    const [r, w] = track(...sys.pipe());
    const buffer = Buffer.alloc(16);
    expect(sys.read(r, buffer)).toBe(sys.WOULD_BLOCK);
    expect(sys.write(w, Buffer.from('hello'))).toBe(5);
    expect(sys.read(r, buffer)).toBe(5);
    expect(buffer.subarray(0, 5).toString()).toBe('hello');
    sys.close(w);
    fds.splice(fds.indexOf(w), 1);
    expect(sys.read(r, buffer)).toBe(0);
  });

  it('honours offset and length', () => {
    const [r, w] = track(...sys.pipe());
    expect(sys.write(w, Buffer.from('abcdef'), 2, 3)).toBe(3);
    const buffer = Buffer.alloc(8, '.');
    expect(sys.read(r, buffer, 4)).toBe(3);
    expect(buffer.toString()).toBe('....cde.');
    expect(sys.write(w, Buffer.from('xyz'), 1)).toBe(2);
    expect(sys.read(r, buffer, 0, 1)).toBe(1);
    expect(sys.read(r, buffer, 1, 0)).toBe(0);
    expect(buffer.toString()).toBe('y...cde.');
  });

  it('works with a Uint8Array view into a larger buffer', () => {
    const [r, w] = track(...sys.pipe());
    const backing = new Uint8Array(16);
    const view = new Uint8Array(backing.buffer, 8, 4);
    sys.write(w, new Uint8Array([1, 2, 3, 4, 5]));
    expect(sys.read(r, view)).toBe(4);
    expect([...backing]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0]);
  });

  it('returns WOULD_BLOCK when the pipe is full', () => {
    const [, w] = track(...sys.pipe());
    const chunk = Buffer.alloc(65536);
    let total = 0;
    for (;;) {
      const n = sys.write(w, chunk);
      if (n === sys.WOULD_BLOCK) break;
      total += n;
    }
    expect(total).toBeGreaterThan(0);
  });

  it('EPIPE when the reader is gone', () => {
    const [r, w] = track(...sys.pipe());
    sys.close(r);
    fds.splice(fds.indexOf(r), 1);
    expectErrno(() => sys.write(w, Buffer.from('x')), 'EPIPE', 'write', w);
  });

  it('EBADF for a closed descriptor', () => {
    const [r, w] = sys.pipe();
    sys.close(r);
    sys.close(w);
    expectErrno(() => sys.read(r, Buffer.alloc(1)), 'EBADF', 'read', r);
    expectErrno(() => sys.write(w, Buffer.alloc(1)), 'EBADF', 'write', w);
    expectErrno(() => sys.close(r), 'EBADF', 'close', r);
    expect(String(caught(() => sys.close(r)))).toContain('close EBADF');
  });

  it('rejects invalid arguments with InvalidArgumentError', () => {
    const [r] = track(...sys.pipe());
    for (const fd of [-1, 1.5, Number.NaN, 2 ** 31, '0' as unknown as number]) {
      const error = caught(() => sys.read(fd, Buffer.alloc(1)));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ argument: 'fd', code: 'ERR_FDLOOP_INVALID_ARGUMENT' });
    }
    expect(caught(() => sys.read(r, 'abc' as unknown as Uint8Array))).toMatchObject({ argument: 'buffer' });
    expect(caught(() => sys.read(r, Buffer.alloc(4), 5))).toMatchObject({ argument: 'offset' });
    expect(caught(() => sys.read(r, Buffer.alloc(4), 2, 3))).toMatchObject({ argument: 'length' });
    expect(caught(() => sys.close(-3))).toBeInstanceOf(InvalidArgumentError);
  });

  it('the native layer rejects bad arguments itself instead of reaching the system call', () => {
    const native = loadNative().sys;
    expect(() => native.read(0, Buffer.alloc(4), 2, 3)).toThrow(RangeError);
    expect(() => native.read(-1, Buffer.alloc(4), 0, 1)).toThrow(RangeError);
    expect(() => native.write(1, new Uint16Array(2) as unknown as Uint8Array, 0, 1)).toThrow(TypeError);
    expect(() => native.pipe(new Int32Array(1))).toThrow(TypeError);
  });
});

describe('socketpair, send, recv', () => {
  it('stream: non-blocking, close-on-exec, bidirectional', () => {
    const [a, b] = track(...sys.socketpair());
    expectNonBlockingCloexec(a);
    expectNonBlockingCloexec(b);
    expect(sys.send(a, Buffer.from('ping'))).toBe(4);
    const buffer = Buffer.alloc(8);
    expect(sys.recv(b, buffer, sys.MSG_PEEK)).toBe(4);
    expect(sys.recv(b, buffer)).toBe(4);
    expect(buffer.subarray(0, 4).toString()).toBe('ping');
    expect(sys.recv(b, buffer)).toBe(sys.WOULD_BLOCK);
    expect(sys.write(b, Buffer.from('pong'))).toBe(4);
    expect(sys.read(a, buffer)).toBe(4);
  });

  it('dgram and seqpacket keep message boundaries', () => {
    for (const type of ['dgram', 'seqpacket'] as const) {
      const [a, b] = track(...sys.socketpair(type));
      sys.send(a, Buffer.from('one'));
      sys.send(a, Buffer.from('three'));
      const buffer = Buffer.alloc(16);
      expect(sys.recv(b, buffer)).toBe(3);
      expect(sys.recv(b, buffer)).toBe(5);
    }
  });

  it('rejects an unknown type', () => {
    expect(caught(() => sys.socketpair('raw' as never))).toMatchObject({ argument: 'type' });
  });

  it('send to a closed peer is EPIPE, not SIGPIPE', () => {
    const [a, b] = track(...sys.socketpair());
    sys.close(b);
    fds.splice(fds.indexOf(b), 1);
    expectErrno(() => sys.send(a, Buffer.from('x')), 'EPIPE', 'send', a);
  });

  it('ENOTSOCK for send on a pipe', () => {
    const [, w] = track(...sys.pipe());
    expectErrno(() => sys.send(w, Buffer.from('x')), 'ENOTSOCK', 'send', w);
  });
});

describe('eventfd', () => {
  const counter = (value: bigint): Uint8Array => new Uint8Array(new BigUint64Array([value]).buffer);
  const readCounter = (fd: number): bigint | typeof sys.WOULD_BLOCK => {
    const buffer = new BigUint64Array(1);
    const n = sys.read(fd, new Uint8Array(buffer.buffer));
    return n === sys.WOULD_BLOCK ? n : (buffer[0] as bigint);
  };

  it('counts, and resets on read', () => {
    const [fd] = track(sys.eventfd(3));
    expectNonBlockingCloexec(fd as number);
    expect(readCounter(fd as number)).toBe(3n);
    expect(readCounter(fd as number)).toBe(sys.WOULD_BLOCK);
    sys.write(fd as number, counter(2n));
    sys.write(fd as number, counter(5n));
    expect(readCounter(fd as number)).toBe(7n);
  });

  it('semaphore mode decrements by one per read', () => {
    const [fd] = track(sys.eventfd(2, { semaphore: true }));
    expect(readCounter(fd as number)).toBe(1n);
    expect(readCounter(fd as number)).toBe(1n);
    expect(readCounter(fd as number)).toBe(sys.WOULD_BLOCK);
  });

  it('EINVAL for a write of the wrong size', () => {
    const [fd] = track(sys.eventfd());
    expectErrno(() => sys.write(fd as number, Buffer.alloc(4)), 'EINVAL', 'write', fd);
  });

  it('rejects invalid arguments', () => {
    expect(caught(() => sys.eventfd(-1))).toMatchObject({ argument: 'initial' });
    expect(caught(() => sys.eventfd(2 ** 32))).toMatchObject({ argument: 'initial' });
    expect(caught(() => sys.eventfd(0, { semaphore: 1 as never }))).toMatchObject({ argument: 'options.semaphore' });
  });
});

describe('openpty', () => {
  it('creates a connected, non-blocking, close-on-exec pair', async () => {
    const { master, slave } = sys.openpty();
    track(master, slave);
    expectNonBlockingCloexec(master);
    expectNonBlockingCloexec(slave);
    sys.write(slave, Buffer.from('hi\n'));
    const buffer = Buffer.alloc(16);
    const n = await retry(() => sys.read(master, buffer));
    // The terminal's default output processing turns "\n" into "\r\n".
    expect(buffer.subarray(0, n).toString()).toBe('hi\r\n');
  });

  it('packet mode prefixes reads with a status byte', async () => {
    const { master, slave } = sys.openpty();
    track(master, slave);
    sys.ptyPacketMode(master, true);
    sys.write(slave, Buffer.from('x'));
    const buffer = Buffer.alloc(16);
    const n = await retry(() => sys.read(master, buffer));
    expect([...buffer.subarray(0, n)]).toEqual([sys.PTY_PACKET.DATA, 'x'.charCodeAt(0)]);
    sys.ptyPacketMode(master, false);
  });

  it('ENOTTY for packet mode on something that is not a pty', () => {
    const [r] = track(...sys.pipe());
    expectErrno(() => sys.ptyPacketMode(r, true), 'ENOTTY', 'ioctl', r);
    expect(caught(() => sys.ptyPacketMode(r, 'yes' as never))).toMatchObject({ argument: 'on' });
  });
});

describe('tcp', () => {
  it('listens on an ephemeral port, connects, accepts and exchanges data', async () => {
    const listener = sys.tcpListen();
    track(listener.fd);
    expect(listener.port).toBeGreaterThan(0);
    expectNonBlockingCloexec(listener.fd);
    expect(sys.tcpAccept(listener.fd)).toBe(sys.WOULD_BLOCK);

    const client = sys.tcpConnect('127.0.0.1', listener.port);
    track(client);
    expectNonBlockingCloexec(client);
    const server = await retry(() => sys.tcpAccept(listener.fd));
    track(server);
    expectNonBlockingCloexec(server);
    await retry(() => (sys.socketError(client) === null ? 0 : sys.WOULD_BLOCK));

    await retry(() => sys.send(client, Buffer.from('hello')));
    const buffer = Buffer.alloc(8);
    expect(await retry(() => sys.recv(server, buffer))).toBe(5);
    expect(buffer.subarray(0, 5).toString()).toBe('hello');
    // No urgent byte is pending.
    expectErrno(() => sys.recv(server, buffer, sys.MSG_OOB), 'EINVAL', 'recv', server);
  });

  it('supports IPv6 literals when the host has IPv6', () => {
    let listener: { fd: number; port: number };
    try {
      listener = sys.tcpListen('::1');
    } catch (error) {
      // Containers are often built without IPv6; that is the environment, not the helper.
      if (error instanceof ErrnoError && ['EADDRNOTAVAIL', 'EAFNOSUPPORT'].includes(error.code)) return;
      throw error;
    }
    track(listener.fd);
    expect(listener.port).toBeGreaterThan(0);
    track(sys.tcpConnect('::1', listener.port));
  });

  it('EADDRINUSE from listen on a port in use', () => {
    const listener = sys.tcpListen();
    track(listener.fd);
    expectErrno(() => sys.tcpListen('127.0.0.1', listener.port), 'EADDRINUSE', 'listen');
  });

  it('reports a refused connection through socketError', async () => {
    const listener = sys.tcpListen();
    sys.close(listener.fd);
    let client: number;
    try {
      client = sys.tcpConnect('127.0.0.1', listener.port);
    } catch (error) {
      // Loopback may refuse synchronously; that is the same outcome, reported earlier.
      expect(error).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
      return;
    }
    track(client);
    let pending: ErrnoError | null = null;
    await retry(() => {
      pending = sys.socketError(client);
      return pending === null ? sys.WOULD_BLOCK : 0;
    });
    expect(pending).toBeInstanceOf(ErrnoError);
    expect(pending).toMatchObject({ code: 'ECONNREFUSED', errno: errnoOf('ECONNREFUSED'), syscall: 'connect', fd: client });
  });

  it('socketError of something that is not a socket throws ENOTSOCK', () => {
    const [r] = track(...sys.pipe());
    expectErrno(() => sys.socketError(r), 'ENOTSOCK', 'getsockopt', r);
  });

  it('rejects host names and bad ports', () => {
    expect(caught(() => sys.tcpListen('localhost'))).toMatchObject({ argument: 'host' });
    expect(caught(() => sys.tcpConnect('fe80::1%lo', 80))).toMatchObject({ argument: 'host' });
    expect(caught(() => sys.tcpListen('127.0.0.1', 65536))).toMatchObject({ argument: 'port' });
    expect(caught(() => sys.tcpConnect('127.0.0.1', 0))).toMatchObject({ argument: 'port' });
    expect(caught(() => sys.tcpListen('127.0.0.1', 0, -1))).toMatchObject({ argument: 'backlog' });
  });
});
