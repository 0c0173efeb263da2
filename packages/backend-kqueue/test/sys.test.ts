// The package's `sys` helpers (src/sys.ts) over the emulated build, whose shared posix/sys.cc is compiled with
// FDLOOP_FORCE_PORTABLE: every Linux-only path (pipe2, SOCK_NONBLOCK/SOCK_CLOEXEC, accept4, eventfd, TIOCGPTPEER,
// posix_openpt with O_CLOEXEC) is off, so these tests run the fallbacks a real macOS/FreeBSD build uses (pipe +
// fcntl, socket + fcntl, accept + fcntl, the pty slave opened by name, eventfd -ENOSYS), on real descriptors.
// The flags are checked in /proc, so a fallback that forgot O_NONBLOCK or FD_CLOEXEC fails here.
import { constants } from 'node:os';
import { ErrnoError, InvalidArgumentError, UnsupportedError } from '@fdloop/core';
import { afterEach, describe, expect, it } from 'vitest';
import { emulatedBinding, emulatedSys as sys, expectNonBlockingCloexec } from './emulated.js';

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

async function retry<T>(attempt: () => T | -1): Promise<T> {
  for (let i = 0; i < 2000; i++) {
    const result = attempt();
    if (result !== sys.WOULD_BLOCK) return result as T;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error('still WOULD_BLOCK after 2 s');
}

describe('sys on the emulated (portable-path) build', () => {
  it('emulated: the build uses every portable fallback, none of the Linux-only calls', () => {
    expect(emulatedBinding.sys.features).toEqual({
      pipe2: false,
      socketFlags: false,
      accept4: false,
      eventfd: false,
      ptyPeer: false,
      openptFlags: false,
    });
  });

  it('emulated: constants come from the C headers; PTY_PACKET and MSG_OOB/MSG_PEEK match them', () => {
    const c = emulatedBinding.sys.constants;
    expect(c.EAGAIN).toBe(constants.errno.EAGAIN);
    expect(c.ENOSYS).toBe(constants.errno.ENOSYS);
    expect(sys.MSG_OOB).toBe(c.MSG_OOB);
    expect(sys.MSG_PEEK).toBe(c.MSG_PEEK);
    expect(sys.MSG_DONTWAIT).toBe(c.MSG_DONTWAIT);
    expect(sys.PTY_PACKET).toEqual({
      DATA: c.TIOCPKT_DATA,
      FLUSHREAD: c.TIOCPKT_FLUSHREAD,
      FLUSHWRITE: c.TIOCPKT_FLUSHWRITE,
      STOP: c.TIOCPKT_STOP,
      START: c.TIOCPKT_START,
      NOSTOP: c.TIOCPKT_NOSTOP,
      DOSTOP: c.TIOCPKT_DOSTOP,
    });
  });

  it('emulated: the published `sys` refuses to load the addon off macOS/FreeBSD, with the reason', async () => {
    const index = await import('../src/index.js');
    expect(() => index.sys.pipe()).toThrow(/kqueue exists on macOS and FreeBSD; this is linux/);
    expect(index.sys.WOULD_BLOCK).toBe(-1);
  });
});

describe('pipe, read, write (emulated build: pipe + fcntl)', () => {
  it('emulated: creates a non-blocking, close-on-exec pipe and round-trips data', () => {
    const [r, w] = track(...sys.pipe());
    expectNonBlockingCloexec(r);
    expectNonBlockingCloexec(w);
    const buffer = Buffer.alloc(8);
    expect(sys.read(r, buffer)).toBe(sys.WOULD_BLOCK);
    expect(sys.write(w, Buffer.from('abcdef'), 2, 3)).toBe(3);
    expect(sys.read(r, buffer, 1)).toBe(3);
    expect(buffer.subarray(1, 4).toString()).toBe('cde');
    sys.close(w);
    fds.splice(fds.indexOf(w), 1);
    expect(sys.read(r, buffer)).toBe(0);
  });

  it('emulated: WOULD_BLOCK when full, EPIPE when the reader is gone, EBADF when closed', () => {
    const [r, w] = track(...sys.pipe());
    const chunk = Buffer.alloc(65536);
    let n = 0;
    while (n !== sys.WOULD_BLOCK) n = sys.write(w, chunk);
    sys.close(r);
    fds.splice(fds.indexOf(r), 1);
    expectErrno(() => sys.write(w, chunk), 'EPIPE', 'write', w);
    expectErrno(() => sys.read(r, chunk), 'EBADF', 'read', r);
  });

  it('emulated: rejects invalid arguments with InvalidArgumentError', () => {
    expect(caught(() => sys.read(-1, Buffer.alloc(1)))).toBeInstanceOf(InvalidArgumentError);
    expect(caught(() => sys.read(0, 'x' as never))).toMatchObject({ argument: 'buffer' });
    expect(caught(() => sys.write(0, Buffer.alloc(2), 3))).toMatchObject({ argument: 'offset' });
    expect(caught(() => sys.write(0, Buffer.alloc(2), 1, 2))).toMatchObject({ argument: 'length' });
  });
});

describe('socketpair, send, recv (emulated build: socketpair + fcntl)', () => {
  it('emulated: stream pairs are non-blocking, close-on-exec and bidirectional', () => {
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

  it('emulated: dgram and seqpacket keep message boundaries', () => {
    for (const type of ['dgram', 'seqpacket'] as const) {
      const [a, b] = track(...sys.socketpair(type));
      expectNonBlockingCloexec(a);
      sys.send(a, Buffer.from('one'));
      sys.send(a, Buffer.from('three'));
      const buffer = Buffer.alloc(16);
      expect(sys.recv(b, buffer)).toBe(3);
      expect(sys.recv(b, buffer)).toBe(5);
    }
  });

  it('emulated: send to a closed peer is EPIPE, not SIGPIPE; send on a pipe is ENOTSOCK', () => {
    const [a, b] = track(...sys.socketpair());
    sys.close(b);
    fds.splice(fds.indexOf(b), 1);
    expectErrno(() => sys.send(a, Buffer.from('x')), 'EPIPE', 'send', a);
    const [, w] = track(...sys.pipe());
    expectErrno(() => sys.send(w, Buffer.from('x')), 'ENOTSOCK', 'send', w);
    expect(caught(() => sys.socketpair('raw' as never))).toMatchObject({ argument: 'type' });
  });
});

describe('eventfd (emulated build: Linux-only, so ENOSYS)', () => {
  it('emulated: the native function returns -ENOSYS and creates nothing', () => {
    expect(emulatedBinding.sys.eventfd(0, false)).toBe(errnoOf('ENOSYS'));
    expect(() => emulatedBinding.sys.eventfd(-1, false)).toThrow(RangeError);
    expect(() => emulatedBinding.sys.eventfd(0, 1 as never)).toThrow(TypeError);
  });

  it('emulated: sys.eventfd throws UnsupportedError with the ENOSYS ErrnoError as cause', () => {
    const error = caught(() => sys.eventfd(1));
    expect(error).toBeInstanceOf(UnsupportedError);
    expect(error).toMatchObject({ code: 'ERR_FDLOOP_UNSUPPORTED', backend: 'kqueue', feature: 'eventfd' });
    const cause = (error as Error).cause;
    expect(cause).toBeInstanceOf(ErrnoError);
    expect(cause).toMatchObject({ code: 'ENOSYS', errno: errnoOf('ENOSYS'), syscall: 'eventfd' });
  });

  it('emulated: bad arguments are InvalidArgumentErrors before anything else', () => {
    expect(caught(() => sys.eventfd(-1))).toMatchObject({ argument: 'initial' });
    expect(caught(() => sys.eventfd(2 ** 32))).toMatchObject({ argument: 'initial' });
    expect(caught(() => sys.eventfd(0, { semaphore: 1 as never }))).toMatchObject({ argument: 'options.semaphore' });
  });
});

describe('openpty (emulated build: posix_openpt + fcntl, slave opened by name)', () => {
  it('emulated: creates a connected, non-blocking, close-on-exec pair', async () => {
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

  it('emulated: packet mode prefixes reads with a status byte; ENOTTY on a pipe', async () => {
    const { master, slave } = sys.openpty();
    track(master, slave);
    sys.ptyPacketMode(master, true);
    sys.write(slave, Buffer.from('x'));
    const buffer = Buffer.alloc(16);
    const n = await retry(() => sys.read(master, buffer));
    expect([...buffer.subarray(0, n)]).toEqual([sys.PTY_PACKET.DATA, 'x'.charCodeAt(0)]);
    const [r] = track(...sys.pipe());
    expectErrno(() => sys.ptyPacketMode(r, true), 'ENOTTY', 'ioctl', r);
    expect(caught(() => sys.ptyPacketMode(r, 'yes' as never))).toMatchObject({ argument: 'on' });
  });
});

describe('tcp (emulated build: socket + fcntl, accept + fcntl)', () => {
  it('emulated: listens, connects, accepts and exchanges data; every socket non-blocking and close-on-exec', async () => {
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
    expectErrno(() => sys.recv(server, buffer, sys.MSG_OOB), 'EINVAL', 'recv', server);
  });

  it('emulated: EADDRINUSE, a refused connection through socketError, ENOTSOCK', async () => {
    const listener = sys.tcpListen();
    track(listener.fd);
    expectErrno(() => sys.tcpListen('127.0.0.1', listener.port), 'EADDRINUSE', 'listen');
    sys.close(listener.fd);
    fds.splice(fds.indexOf(listener.fd), 1);
    let client: number;
    try {
      client = sys.tcpConnect('127.0.0.1', listener.port);
    } catch (error) {
      expect(error).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
      return;
    }
    track(client);
    let pending: ErrnoError | null = null;
    await retry(() => {
      pending = sys.socketError(client);
      return pending === null ? sys.WOULD_BLOCK : 0;
    });
    expect(pending).toMatchObject({ code: 'ECONNREFUSED', errno: errnoOf('ECONNREFUSED'), syscall: 'connect', fd: client });
    const [r] = track(...sys.pipe());
    expectErrno(() => sys.socketError(r), 'ENOTSOCK', 'getsockopt', r);
  });

  it('emulated: rejects host names and bad ports', () => {
    expect(caught(() => sys.tcpListen('localhost'))).toMatchObject({ argument: 'host' });
    expect(caught(() => sys.tcpConnect('fe80::1%lo', 80))).toMatchObject({ argument: 'host' });
    expect(caught(() => sys.tcpListen('127.0.0.1', 65536))).toMatchObject({ argument: 'port' });
    expect(caught(() => sys.tcpConnect('127.0.0.1', 0))).toMatchObject({ argument: 'port' });
    expect(caught(() => sys.tcpListen('127.0.0.1', 0, -1))).toMatchObject({ argument: 'backlog' });
  });
});
