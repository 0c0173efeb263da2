// Socket readiness through the AFD poll ioctl: an echo server driven by the runtime, 500 sockets polled at once
// (spread over several \Device\Afd handles), and typed errors for bad handles. Real sockets on 127.0.0.1.
import { describe, expect, it } from 'vitest';
import { createRuntime, ErrnoError, Interest, Ready, type Runtime } from '@fdloop/core';
import { iocp, sys, winError, winErrorName, WOULD_BLOCK } from '../src/index.js';
import { recordingPoller, settle, socketsClosedAfterEach, waitFor } from './helpers.js';

const { opened, pair } = socketsClosedAfterEach();

describe('echo through readiness', () => {
  it('a runtime-driven echo server returns every message, then sees the client hang up', async () => {
    const rt: Runtime = createRuntime({ backend: iocp() });
    const listener = sys.tcpListen('127.0.0.1', 0);
    opened.push(listener.fd);
    const received: string[] = [];
    let serverSawHangup = false;
    try {
      await rt.run(async () => {
        // Server: accept on READABLE, echo what arrives, close on end of file.
        rt.watch(listener.fd, Interest.READABLE, (_ev, acceptWatcher) => {
          const conn = sys.tcpAccept(listener.fd);
          if (conn === WOULD_BLOCK) return;
          opened.push(conn);
          acceptWatcher.close();
          const buf = Buffer.alloc(1024);
          rt.watch(conn, Interest.READABLE, (ev, w) => {
            for (;;) {
              const n = sys.recv(conn, buf);
              if (n === WOULD_BLOCK) break;
              if (n === 0) {
                serverSawHangup = ev.readHangup || ev.readable;
                w.close();
                return;
              }
              expect(sys.send(conn, buf.subarray(0, n))).toBe(n);
            }
          });
        });

        // Client: connect, wait for writable, send three messages one round trip at a time.
        const client = sys.tcpConnect('127.0.0.1', listener.port);
        opened.push(client);
        await rt.writable(client);
        expect(sys.socketError(client)).toBeUndefined();
        const buf = Buffer.alloc(1024);
        for (const msg of ['hello', 'from', 'wine']) {
          expect(sys.send(client, Buffer.from(msg))).toBe(msg.length);
          let got = '';
          while (got.length < msg.length) {
            await rt.readable(client);
            const n = sys.recv(client, buf);
            if (n > 0) got += buf.toString('utf8', 0, n);
          }
          received.push(got);
        }
        sys.closeSocket(client);
        opened.splice(opened.indexOf(client), 1);
      });
    } finally {
      await rt.close();
    }
    expect(received).toEqual(['hello', 'from', 'wine']);
    expect(serverSawHangup).toBe(true);
  });
});

describe('scale', () => {
  it('polls 500 sockets at once over several AFD handles and reports every one', async () => {
    const { poller, rec } = recordingPoller(128);
    try {
      const pairs: Array<[number, number]> = [];
      for (let i = 0; i < 250; i++) pairs.push(pair());
      let token = 0;
      for (const [a, b] of pairs) {
        poller.register(a, token++, Interest.READABLE | Interest.ONESHOT);
        poller.register(b, token++, Interest.READABLE | Interest.ONESHOT);
      }
      const stats = poller.stats();
      expect(stats.sockets).toBe(500);
      expect(stats.afdHandles).toBe(Math.ceil(500 / 32));
      for (const [a, b] of pairs) {
        expect(sys.send(a, Buffer.from('x'))).toBe(1);
        expect(sys.send(b, Buffer.from('y'))).toBe(1);
      }
      await waitFor(() => new Set(rec.pairs.map(([t]) => t)).size === 500, 'all 500 sockets to report');
      expect(rec.pairs.every(([, flags]) => (flags & Ready.READABLE) !== 0)).toBe(true);
      expect(rec.batches.every((n) => n > 0 && n <= 128)).toBe(true);
      // ONESHOT: each reported exactly once, and nothing is left in the kernel's hands.
      await settle();
      expect(rec.pairs.length).toBe(500);
      expect(poller.stats().pending).toBe(0);
    } finally {
      poller.close();
    }
  });
});

describe('bad handles and the error table', () => {
  it('a closed socket is EBADF, a non-socket handle ENOTSOCK, a second registration EEXIST, an unknown one ENOENT', () => {
    const { poller } = recordingPoller();
    const [a] = pair();
    const [r, w] = sys.pipe();
    const [c, d] = sys.socketPair();
    sys.closeSocket(c);
    sys.closeSocket(d);
    try {
      expect(() => poller.register(c, 1, Interest.READABLE)).toThrowError(
        expect.objectContaining({ code: 'EBADF', syscall: 'afd_poll', fd: c }),
      );
      let caught: unknown;
      try {
        poller.register(r, 1, Interest.READABLE);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ErrnoError);
      expect(caught).toMatchObject({ code: 'ENOTSOCK', syscall: 'afd_poll', fd: r });
      poller.register(a, 1, Interest.READABLE);
      expect(() => poller.register(a, 2, Interest.READABLE)).toThrowError(expect.objectContaining({ code: 'EEXIST' }));
      expect(() => poller.deregister(r)).toThrowError(expect.objectContaining({ code: 'ENOENT' }));
      expect(() => poller.reregister(r, 1, Interest.READABLE)).toThrowError(expect.objectContaining({ code: 'ENOENT' }));
      expect(() => poller.register(a, 1, 0x40)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
      expect(() => poller.register(-1, 1, Interest.READABLE)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
    } finally {
      poller.close();
      sys.closeHandle(r);
      sys.closeHandle(w);
    }
    expect(() => poller.register(a, 1, Interest.READABLE)).toThrowError(/the poller is closed/);
  });

  it('the runtime accepts EDGE on this backend (capabilities.edge) and still refuses a bad handle', async () => {
    const rt = createRuntime({ backend: iocp() });
    const [a] = pair();
    try {
      expect(rt.backend.capabilities.edge).toBe(true);
      const w = rt.watch(a, Interest.READABLE | Interest.EDGE, () => {});
      w.close();
      expect(() => rt.watch(-5, Interest.READABLE | Interest.EDGE, () => {})).toThrowError(
        expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }),
      );
    } finally {
      await rt.close();
    }
  });

  it('maps Win32, WSA and NTSTATUS codes through one table to the errno Node uses', async () => {
    const { getSystemErrorName } = await import('node:util');
    const { loadNative } = await import('../src/native.js');
    expect(winErrorName(6)).toBe('EBADF'); // ERROR_INVALID_HANDLE
    expect(winErrorName(10035)).toBe('EAGAIN'); // WSAEWOULDBLOCK
    expect(winErrorName(10054)).toBe('ECONNRESET'); // WSAECONNRESET
    expect(winErrorName(995)).toBe('ECANCELED'); // ERROR_OPERATION_ABORTED
    expect(winErrorName(123456)).toBe('UNKNOWN');
    // NTSTATUS: STATUS_CANCELLED → ERROR_OPERATION_ABORTED, STATUS_INVALID_HANDLE → ERROR_INVALID_HANDLE.
    const native = loadNative().sys;
    expect(winErrorName(native.ntStatusToWin32(0xc0000120 | 0))).toBe('ECANCELED');
    expect(winErrorName(native.ntStatusToWin32(0xc0000008 | 0))).toBe('EBADF');
    const err = winError(10061, 'connect', { fd: 5 });
    expect(err).toBeInstanceOf(ErrnoError);
    expect(err.code).toBe('ECONNREFUSED');
    expect(getSystemErrorName(err.errno)).toBe('ECONNREFUSED');
    expect(err.message).toBe('connect ECONNREFUSED (fd 5): Windows error 10061');
  });

  it('sys helpers throw typed errors: recv on a closed socket, connect to a closed port', async () => {
    const [c, d] = sys.socketPair();
    sys.closeSocket(c);
    sys.closeSocket(d);
    expect(() => sys.recv(c, Buffer.alloc(4))).toThrowError(expect.objectContaining({ code: 'ENOTSOCK', syscall: 'recv' }));
    const listener = sys.tcpListen('127.0.0.1', 0);
    sys.closeSocket(listener.fd);
    const rt = createRuntime({ backend: iocp() });
    try {
      const client = sys.tcpConnect('127.0.0.1', listener.port);
      opened.push(client);
      const ev = await rt.writable(client);
      expect(ev.error || ev.hangup).toBe(true);
      expect(sys.socketError(client)).toBe('ECONNREFUSED');
    } finally {
      await rt.close();
    }
  });
});
