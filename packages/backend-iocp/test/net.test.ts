// Backend.net on Winsock, and the portable modules on top of it: @fdloop/mod-net (its net conformance suite from
// @fdloop/mod-net/testing, plus unix stream sockets where Winsock has them) and @fdloop/mod-http (its HTTP suite
// from @fdloop/mod-http/testing), all on a runtime with the iocp backend, over 127.0.0.1 / ::1 — plus node:net /
// node:http as independent peers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, ErrnoError, errnoError, Interest, type NetSyscalls, type Runtime } from '@fdloop/core';
import { netModule, type NetApi } from '@fdloop/mod-net';
import { runNetSuite, type NotASocket } from '@fdloop/mod-net/testing';
import { runHttpSuite } from '@fdloop/mod-http/testing';
import { iocp, sys } from '../src/index.js';

let rt: Runtime;
let net: NetApi;
let raw: NetSyscalls;
let dir: string;

beforeEach(() => {
  const backend = iocp();
  raw = backend.net;
  rt = createRuntime({ backend });
  net = rt.use(netModule);
  dir = mkdtempSync(join(tmpdir(), 'fdloop-iocp-net-'));
});

afterEach(async () => {
  await rt.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Backend.net (Winsock, raw results)', () => {
  it('returns -EAGAIN / -EINPROGRESS as Node numbers them, and errors that read as Node errors', () => {
    const c = raw.constants;
    expect(c.SO_REUSEPORT).toBe(-1);
    expect(c.IOV_MAX).toBeGreaterThanOrEqual(16);
    expect(errnoError(-c.EAGAIN, 'read').code).toBe('EAGAIN');
    // libuv has no EINPROGRESS: the C runtime's number, distinct from every errno Node knows on Windows.
    expect(c.EINPROGRESS).toBeGreaterThan(0);
    expect(Object.keys(Object.fromEntries(getSystemErrorMap())).map(Number)).not.toContain(-c.EINPROGRESS);

    const listener = raw.socket(c.AF_INET, c.SOCK_STREAM);
    expect(listener).toBeGreaterThan(0);
    expect(raw.bind(listener, c.AF_INET, '127.0.0.1', 0)).toBe(0);
    expect(raw.listen(listener, 8)).toBe(0);
    expect(raw.accept(listener)).toBe(-c.EAGAIN); // nobody is connecting: would block
    const addr = { family: '', address: '', port: 0 };
    expect(raw.localAddress(listener, addr)).toBe(0);
    expect(addr.family).toBe('IPv4');
    const info = new Int32Array(3);
    expect(raw.describe(listener, info)).toBe(0);
    expect([...info]).toEqual([c.AF_INET, c.SOCK_STREAM, 1]);

    const client = raw.socket(c.AF_INET, c.SOCK_STREAM);
    const rc = raw.connect(client, c.AF_INET, '127.0.0.1', addr.port);
    expect(rc === 0 || rc === -c.EINPROGRESS).toBe(true);
    expect(raw.read(client, Buffer.alloc(8), 0, 8)).toBeLessThan(0); // not connected yet, or connected and empty

    // A bad address literal, a port in use, a closed socket: typed errors with Node's codes.
    const other = raw.socket(c.AF_INET, c.SOCK_STREAM);
    expect(errnoError(raw.bind(other, c.AF_INET, 'not-an-ip', 0), 'bind').code).toBe('EINVAL');
    expect(errnoError(raw.bind(other, c.AF_INET, '127.0.0.1', addr.port), 'bind').code).toBe('EADDRINUSE');
    expect(raw.close(other)).toBe(0);
    const closed = errnoError(raw.send(other, Buffer.from('x'), 0, 1), 'send');
    expect(closed).toBeInstanceOf(ErrnoError);
    expect(closed.code).toBe('ENOTSOCK'); // Winsock's answer for a closed SOCKET value
    raw.close(client);
    raw.close(listener);
  });

  it('sets integer options; one the stack lacks fails with a typed error, never silently', () => {
    const c = raw.constants;
    const fd = raw.socket(c.AF_INET, c.SOCK_STREAM);
    try {
      const out = new Int32Array(1);
      expect(raw.setOption(fd, c.IPPROTO_TCP, c.TCP_NODELAY, 1)).toBe(0);
      expect(raw.getOption(fd, c.IPPROTO_TCP, c.TCP_NODELAY, out)).toBe(0);
      expect(out[0]).toBe(1);
      expect(raw.setOption(fd, c.SOL_SOCKET, c.SO_KEEPALIVE, 1)).toBe(0);
      expect(raw.getOption(fd, c.SOL_SOCKET, c.SO_KEEPALIVE, out)).toBe(0);
      expect(out[0]).toBe(1);
      // TCP_KEEPIDLE: Windows 10 1709+ has it; Wine 8 answers WSAENOPROTOOPT.
      const rc = raw.setOption(fd, c.IPPROTO_TCP, c.TCP_KEEPIDLE, 30);
      if (rc !== 0) expect(errnoError(rc, 'setsockopt').code).toBe('ENOPROTOOPT');
      // SO_REUSEADDR is accepted without setting Windows' port-stealing option (see src/net.ts).
      expect(raw.setOption(fd, c.SOL_SOCKET, c.SO_REUSEADDR, 1)).toBe(0);
      expect(raw.getOption(fd, c.SOL_SOCKET, c.SO_REUSEADDR, out)).toBe(0);
      expect(out[0]).toBe(0);
    } finally {
      raw.close(fd);
    }
  });

  it('writev sends several buffers in one WSASend, from an offset into the first', async () => {
    const c = raw.constants;
    const [a, b] = sys.socketPair();
    try {
      const n = raw.writev(a, [Buffer.from('xxhe'), Buffer.from('llo '), Buffer.alloc(0), Buffer.from('world')], 0, 2);
      expect(n).toBe(11);
      const buf = Buffer.alloc(64);
      let got = '';
      while (got.length < 11) {
        await rt.readable(b);
        const m = raw.read(b, buf, 0, buf.length);
        if (m > 0) got += buf.toString('utf8', 0, m);
        else expect(m).toBe(-c.EAGAIN);
      }
      expect(got).toBe('hello world');
    } finally {
      sys.closeSocket(a);
      sys.closeSocket(b);
    }
  });

  it('UDP: sendTo/recvFrom with the sender in Node shape; a datagram longer than the buffer is truncated', async () => {
    const c = raw.constants;
    const a = raw.socket(c.AF_INET, c.SOCK_DGRAM);
    const b = raw.socket(c.AF_INET, c.SOCK_DGRAM);
    try {
      expect(raw.bind(a, c.AF_INET, '127.0.0.1', 0)).toBe(0);
      expect(raw.bind(b, c.AF_INET, '127.0.0.1', 0)).toBe(0);
      const addrA = { family: '', address: '', port: 0 };
      const addrB = { family: '', address: '', port: 0 };
      raw.localAddress(a, addrA);
      raw.localAddress(b, addrB);
      const from = { family: '', address: '', port: 0 };
      const buf = Buffer.alloc(4);
      expect(raw.recvFrom(a, buf, 0, 4, from)).toBe(-c.EAGAIN);
      expect(raw.sendTo(b, Buffer.from('truncated'), 0, 9, c.AF_INET, '127.0.0.1', addrA.port)).toBe(9);
      await rt.readable(a);
      expect(raw.recvFrom(a, buf, 0, 4, from)).toBe(4);
      expect(buf.toString()).toBe('trun');
      expect(from).toEqual({ family: 'IPv4', address: '127.0.0.1', port: addrB.port });
      expect(raw.recvFrom(a, buf, 0, 4, from)).toBe(-c.EAGAIN); // the rest of that datagram is gone
    } finally {
      raw.close(a);
      raw.close(b);
    }
  });

  it('its would-block re-arms an EDGE watcher (net.read, not only sys.recv)', async () => {
    const c = raw.constants;
    const [a, b] = sys.socketPair();
    let reports = 0;
    const got: string[] = [];
    try {
      const w = rt.watch(a, Interest.READABLE | Interest.EDGE, () => {
        reports++;
        const buf = Buffer.alloc(64);
        for (;;) {
          const n = raw.read(a, buf, 0, buf.length);
          if (n === -c.EAGAIN) break;
          got.push(buf.toString('utf8', 0, n));
        }
      });
      for (const msg of ['a', 'b', 'c']) {
        raw.send(b, Buffer.from(msg), 0, 1);
        while (got.length < 1 || got[got.length - 1] !== msg) await rt.sleep(2);
      }
      expect(got.join('')).toBe('abc');
      expect(reports).toBe(3);
      w.close();
    } finally {
      sys.closeSocket(a);
      sys.closeSocket(b);
    }
  });
});

// The net conformance suite of @fdloop/mod-net (TCP v4/v6 with node:net — libuv's own Windows sockets — as peer,
// half-close, a large transfer, adopt, Node-shaped ECONNREFUSED, UDP, the reusePort refusal) on the iocp backend.
// Wine 8 has no AF_UNIX provider and no TCP_KEEPIDLE: those parts are off here and checked below instead.
runNetSuite({
  name: 'net: @fdloop/mod-net on iocp',
  backend: () => iocp(),
  unix: false,
  reusePort: false, // Windows has no SO_REUSEPORT
  keepAliveTiming: false,
  notASocket: (): NotASocket => {
    const [r, w] = sys.pipe(); // a named-pipe pair
    return { fd: r, close: () => [r, w].forEach((h) => sys.closeHandle(h)) };
  },
  describe,
  it,
});

describe('@fdloop/mod-net on iocp (Windows-specific)', () => {
  it('unix stream sockets: an echo when Winsock has AF_UNIX (Windows 10 1803+), else a typed EAFNOSUPPORT (Wine 8)', async () => {
    const c = raw.constants;
    const probe = raw.socket(c.AF_UNIX, c.SOCK_STREAM);
    const path = join(dir, 's.sock');
    if (probe < 0) {
      // Wine (as of 8) has no AF_UNIX provider: mod-net reports it as a typed error, nothing is left open.
      expect(errnoError(probe, 'socket').code).toBe('EAFNOSUPPORT');
      expect(() => net.listen({ path }, () => undefined)).toThrow(expect.objectContaining({ code: 'EAFNOSUPPORT', syscall: 'socket' }) as Error);
      return;
    }
    raw.close(probe);
    const server = net.listen({ path }, (socket) => socket.handle({ data: (chunk) => socket.write(Buffer.from(chunk)) }));
    const client = await net.connect({ path });
    client.write('unix');
    expect(String(await client.read())).toBe('unix');
    client.close();
    server.close();
  });
});

// @fdloop/mod-http's HTTP suite (server and client, keep-alive, chunked both ways, backpressure, pipelining, a
// malformed request, node:http peers, graceful close, abort) on the iocp backend.
runHttpSuite({ name: 'http: @fdloop/mod-http on iocp', backend: () => iocp(), describe, it, timeout: 60_000 });
