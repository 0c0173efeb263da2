// Backend.net of the kqueue backend over the emulated build: the raw socket system calls (posix/sock.cc shared with
// backend-epoll, plus read/close/SO_ERROR from posix/sys.cc) on real sockets on 127.0.0.1 and unix paths, and
// @fdloop/mod-net's net conformance suite (runNetSuite) and @fdloop/mod-http's HTTP suite (runHttpSuite) on a
// runtime whose poller is the emulated kqueue.
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NetSyscalls, type SocketAddressInfo } from '@fdloop/core';
import { runHttpSuite } from '@fdloop/mod-http/testing';
import { runNetSuite, type NotASocket } from '@fdloop/mod-net/testing';
import { describe, expect, it } from 'vitest';
import { emulatedBinding, emulatedKqueue, expectNonBlockingCloexec, pause, sys } from './emulated.js';

const E = constants.errno;

function addr(): SocketAddressInfo {
  return { family: '', address: '', port: 0 };
}

/** Retry a raw call while it returns -EAGAIN, sleeping 1 ms between tries, for at most about five seconds. */
function retry(attempt: () => number): number {
  for (let i = 0; i < 5000; i++) {
    const rc = attempt();
    if (rc !== -E.EAGAIN) return rc;
    pause(1);
  }
  throw new Error('still EAGAIN after about 5 s');
}

describe('Backend.net (emulated kqueue build)', () => {
  const net = emulatedKqueue().net as NetSyscalls;
  const c = net.constants;

  it('emulated: is present, frozen, and passes the shared native functions through', () => {
    expect(Object.isFrozen(net)).toBe(true);
    expect(net.socket).toBe(emulatedBinding.sock.socket);
    expect(net.read).toBe(emulatedBinding.sys.read);
    expect(net.close).toBe(emulatedBinding.sys.close);
    expect(net.socketError).toBe(emulatedBinding.sys.socketError);
    expect(c.AF_INET).toBe(2);
    expect(c.EINPROGRESS).toBe(E.EINPROGRESS);
    expect(c.EAGAIN).toBe(E.EAGAIN);
  });

  it('emulated: listens, connects, accepts, writev()s and half-closes over TCP', () => {
    const l = net.socket(c.AF_INET, c.SOCK_STREAM);
    expect(l).toBeGreaterThan(0);
    expect(net.bind(l, c.AF_INET, '127.0.0.1', 0)).toBe(0);
    expect(net.listen(l, 16)).toBe(0);
    const local = addr();
    expect(net.localAddress(l, local)).toBe(0);
    expect(net.accept(l)).toBe(-E.EAGAIN);
    const s = net.socket(c.AF_INET, c.SOCK_STREAM);
    expect([0, -E.EINPROGRESS]).toContain(net.connect(s, c.AF_INET, '127.0.0.1', local.port));
    const a = retry(() => net.accept(l));
    expect(a).toBeGreaterThan(0);
    // This build has FDLOOP_FORCE_PORTABLE: socket() and accept() took the socket + fcntl / accept + fcntl paths of
    // macOS, and still hand out non-blocking, close-on-exec descriptors (checked in /proc).
    for (const fd of [l, s, a]) expectNonBlockingCloexec(fd);
    const info = new Int32Array(3);
    expect(net.describe(l, info)).toBe(0);
    expect([...info]).toEqual([c.AF_INET, c.SOCK_STREAM, 1]);
    expect(net.socketError(s)).toBe(0);
    expect(net.writev(s, [Buffer.from('ab'), Buffer.from('cdef'), Buffer.from('g')], 1, 2)).toBe(3);
    expect(net.shutdown(s, c.SHUT_WR)).toBe(0);
    const buf = Buffer.alloc(16);
    let got = '';
    for (;;) {
      const n = retry(() => net.read(a, buf, 0, buf.length));
      if (n <= 0) break;
      got += buf.toString('latin1', 0, n);
    }
    expect(got).toBe('efg');
    expect(net.send(s, Buffer.from('x'), 0, 1)).toBe(-E.EPIPE);
    for (const fd of [s, a, l]) expect(net.close(fd)).toBe(0);
    expect(net.close(l)).toBe(-E.EBADF);
  });

  it('emulated: unix datagrams carry the sender address; bad input is -errno or a TypeError/RangeError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fdloop-kq-sock-'));
    try {
      const path = join(dir, 'u.sock');
      const u = net.socket(c.AF_UNIX, c.SOCK_DGRAM);
      expect(net.bind(u, c.AF_UNIX, path, 0)).toBe(0);
      const v = net.socket(c.AF_UNIX, c.SOCK_DGRAM);
      expect(net.sendTo(v, Buffer.from('unix'), 0, 4, c.AF_UNIX, path, 0)).toBe(4);
      const buf = Buffer.alloc(8);
      const from = addr();
      const n = retry(() => net.recvFrom(u, buf, 0, buf.length, from));
      expect(buf.toString('latin1', 0, n)).toBe('unix');
      expect(from).toEqual({ family: 'unix', address: '', port: 0 });
      for (const fd of [u, v]) net.close(fd);
      expect(net.unlink(path)).toBe(0);
      expect(net.bind(u, c.AF_INET, 'not-an-ip', 0)).toBe(-E.EINVAL);
      expect(() => net.bind(-1, c.AF_INET, '127.0.0.1', 0)).toThrow(RangeError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The net conformance suite of @fdloop/mod-net (TCP v4/v6 with node:net as peer, half-close, a large transfer,
// adopt, Node-shaped ECONNREFUSED, UDP, unix stream/datagram, reusePort) on a runtime whose poller is the emulated
// kqueue; the sockets are real, on 127.0.0.1, ::1 and unix paths.
/** The read end of a pipe: what adopt() must refuse with ENOTSOCK. */
function pipeEnd(): NotASocket {
  const [r, w] = sys.pipe();
  return { fd: r, close: () => [r, w].forEach((fd) => sys.close(fd)) };
}

// unix, reusePort and keep-alive timing at their defaults (on): macOS has them all, and so does this emulation.
runNetSuite({
  name: 'emulated: @fdloop/mod-net on the emulated kqueue backend',
  backend: () => emulatedKqueue(),
  notASocket: pipeEnd,
  describe,
  it,
});

runHttpSuite({
  name: 'emulated: @fdloop/mod-http on the emulated kqueue backend',
  backend: () => emulatedKqueue(),
  describe,
  it,
});
