import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { constants } from 'node:os';
import type { NetSyscalls, SocketAddressInfo } from '@fdloop/core';
import { epoll } from '../src/index.js';

// The raw socket system calls of Backend.net (native/posix/sock.cc), on real sockets on 127.0.0.1 and unix paths.
const net = epoll().net as NetSyscalls;
const c = net.constants;
const E = constants.errno;

function addr(): SocketAddressInfo {
  return { family: '', address: '', port: 0 };
}

describe('Backend.net (native sock.cc)', () => {
  it('exposes platform constants', () => {
    expect(c.AF_INET).toBe(2);
    expect(c.AF_INET6).toBe(10);
    expect(c.AF_UNIX).toBe(1);
    expect(c.SO_REUSEPORT).toBeGreaterThan(0);
    expect(c.EINPROGRESS).toBe(E.EINPROGRESS);
    expect(c.IOV_MAX).toBeGreaterThanOrEqual(16);
  });

  it('listens, connects, accepts, writev()s and half-closes over TCP', () => {
    const l = net.socket(c.AF_INET, c.SOCK_STREAM);
    expect(l).toBeGreaterThan(0);
    expect(net.bind(l, c.AF_INET, '127.0.0.1', 0)).toBe(0);
    expect(net.listen(l, 16)).toBe(0);
    const local = addr();
    expect(net.localAddress(l, local)).toBe(0);
    expect(local.family).toBe('IPv4');
    expect(net.accept(l)).toBe(-E.EAGAIN); // nothing pending, and non-blocking
    const s = net.socket(c.AF_INET, c.SOCK_STREAM);
    const rc = net.connect(s, c.AF_INET, '127.0.0.1', local.port);
    expect([0, -E.EINPROGRESS]).toContain(rc);
    let a = -E.EAGAIN;
    while (a === -E.EAGAIN) a = net.accept(l);
    expect(a).toBeGreaterThan(0);
    const info = new Int32Array(3);
    expect(net.describe(l, info)).toBe(0);
    expect([...info]).toEqual([c.AF_INET, c.SOCK_STREAM, 1]);
    expect(net.describe(a, info)).toBe(0);
    expect([...info]).toEqual([c.AF_INET, c.SOCK_STREAM, 0]);
    const peer = addr();
    expect(net.peerAddress(a, peer)).toBe(0);
    expect(peer.address).toBe('127.0.0.1');
    expect(net.socketError(s)).toBe(0);
    const parts = [Buffer.from('ab'), Buffer.from('cdef'), Buffer.from('g')];
    expect(net.writev(s, parts, 1, 2)).toBe(3); // from "ef", then "g"
    expect(net.shutdown(s, c.SHUT_WR)).toBe(0);
    const buf = Buffer.alloc(16);
    let got = '';
    for (;;) {
      const n = net.read(a, buf, 0, buf.length);
      if (n === -E.EAGAIN) continue;
      if (n <= 0) break;
      got += buf.toString('latin1', 0, n);
    }
    expect(got).toBe('efg');
    expect(net.send(s, Buffer.from('x'), 0, 1)).toBe(-E.EPIPE); // write side shut down: EPIPE, no SIGPIPE
    const out = new Int32Array(1);
    expect(net.setOption(a, c.IPPROTO_TCP, c.TCP_NODELAY, 1)).toBe(0);
    expect(net.getOption(a, c.IPPROTO_TCP, c.TCP_NODELAY, out)).toBe(0);
    expect(out[0]).toBe(1);
    for (const fd of [s, a, l]) expect(net.close(fd)).toBe(0);
  });

  it('sends and receives datagrams with the sender address, over IPv6 and unix paths', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fdloop-sock-'));
    try {
      const r = net.socket(c.AF_INET6, c.SOCK_DGRAM);
      expect(net.bind(r, c.AF_INET6, '::1', 0)).toBe(0);
      const where = addr();
      net.localAddress(r, where);
      const s = net.socket(c.AF_INET6, c.SOCK_DGRAM);
      expect(net.sendTo(s, Buffer.from('v6'), 0, 2, c.AF_INET6, '::1', where.port)).toBe(2);
      const buf = Buffer.alloc(8);
      const from = addr();
      let n = -E.EAGAIN;
      while (n === -E.EAGAIN) n = net.recvFrom(r, buf, 0, buf.length, from);
      expect(buf.toString('latin1', 0, n)).toBe('v6');
      expect(from.family).toBe('IPv6');
      expect(from.address).toBe('::1');

      const path = join(dir, 'u.sock');
      const u = net.socket(c.AF_UNIX, c.SOCK_DGRAM);
      expect(net.bind(u, c.AF_UNIX, path, 0)).toBe(0);
      const v = net.socket(c.AF_UNIX, c.SOCK_DGRAM);
      expect(net.sendTo(v, Buffer.from('unix'), 0, 4, c.AF_UNIX, path, 0)).toBe(4);
      n = -E.EAGAIN;
      while (n === -E.EAGAIN) n = net.recvFrom(u, buf, 0, buf.length, from);
      expect(buf.toString('latin1', 0, n)).toBe('unix');
      expect(from).toEqual({ family: 'unix', address: '', port: 0 }); // unbound sender
      for (const fd of [r, s, u, v]) net.close(fd);
      expect(net.unlink(path)).toBe(0);
      expect(net.unlink(path)).toBe(-E.ENOENT);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('returns -errno for bad addresses and descriptors, and throws only for malformed arguments', () => {
    const s = net.socket(c.AF_INET, c.SOCK_STREAM);
    expect(net.bind(s, c.AF_INET, 'not-an-ip', 0)).toBe(-E.EINVAL);
    expect(net.bind(s, c.AF_INET, '::1', 0)).toBe(-E.EINVAL); // an IPv6 literal for an IPv4 socket
    expect(net.connect(s, c.AF_UNIX, 'x'.repeat(200), 0)).toBe(-E.ENAMETOOLONG);
    net.close(s);
    expect(net.listen(s, 1)).toBe(-E.EBADF);
    const pipe = new Int32Array(3);
    expect(net.describe(0x7ffffff, pipe)).toBe(-E.EBADF);
    expect(() => net.bind(-1, c.AF_INET, '127.0.0.1', 0)).toThrow(RangeError);
    expect(() => net.bind(3, c.AF_INET, '127.0.0.1', 70000)).toThrow(RangeError);
    expect(() => net.writev(3, [new Uint16Array(2) as unknown as Uint8Array], 0, 0)).toThrow(TypeError);
  });
});
