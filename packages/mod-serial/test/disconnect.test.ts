// The device vanishes: socat is killed, so both ptys hang up. Without reconnect the port reports the reason and
// ends (data received before the hang-up is still delivered); with reconnect it reopens the path once socat is
// back, and I/O continues on the same stream object.
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClosedError, ErrnoError, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { open, watchPorts, type DisconnectInfo, type PortInfo, type SerialPort } from '../src/index.js';
import { disposeAllPairs, runtime, socatPair, until, type SocatPair } from './helpers.js';

let rt: Runtime;
let pair: SocatPair;
const ports: SerialPort[] = [];

beforeEach(async () => {
  rt = runtime();
  pair = await socatPair();
});

afterEach(async () => {
  for (const p of ports.splice(0)) await p.close();
  await rt.close();
  await disposeAllPairs();
});

function track(p: SerialPort): SerialPort {
  ports.push(p);
  return p;
}

describe('disconnect', () => {
  it('peer closes: the port emits disconnect (EIO or HUP), delivers what it had received, ends and closes', async () => {
    const a = track(open(pair.a, { runtime: rt }));
    const b = track(open(pair.b, { runtime: rt }));
    const received: Buffer[] = [];
    a.on('data', (c: Buffer) => received.push(c));
    const disconnected = once(a, 'disconnect') as Promise<[DisconnectInfo]>;
    const ended = once(a, 'end');
    b.write('last words');
    await until('data at A', () => Buffer.concat(received).toString() === 'last words');
    await pair.stop();
    const [info] = await disconnected;
    expect(['EIO', 'HUP']).toContain(info.reason);
    if (info.reason === 'EIO') {
      expect(info.error).toBeInstanceOf(ErrnoError);
      expect(info.error?.code).toBe('EIO');
    }
    await ended;
    expect(a.disconnectReason).toBe(info);
    expect(a.isOpen).toBe(false);
    expect(Buffer.concat(received).toString()).toBe('last words');
    // A write after the loss is refused with a typed error, never silently dropped.
    expect(() => a.write('x')).toThrow(ClosedError);
  });

  it('writes still queued when the device is lost fail with its error (callback and stream error), not silently', async () => {
    const a = track(open(pair.a, { runtime: rt }));
    // Nobody reads B: the ptys and socat fill up and writes queue in the port.
    const results: unknown[] = [];
    const big = Buffer.alloc(64 * 1024, 0x33);
    for (let i = 0; i < 16; i++) a.write(big, (err) => results.push(err ?? 'ok'));
    const streamError = once(a, 'error') as Promise<[unknown]>;
    await until('writes queued in the port', () => a.pendingWrite > 0 && results.length < 16);
    await pair.stop();
    const [err] = await streamError;
    expect(err).toBeInstanceOf(ErrnoError);
    expect(['EIO', 'EPIPE', 'ENXIO']).toContain((err as ErrnoError).code);
    await until('every write settled', () => results.length === 16);
    expect(results.filter((r) => r !== 'ok').length).toBeGreaterThan(0);
  });

  it('a disconnect is noticed even when nobody reads the port', async () => {
    const a = track(open(pair.a, { runtime: rt }));
    const disconnected = once(a, 'disconnect');
    await pair.stop();
    await disconnected;
    expect(a.isOpen).toBe(false);
  });
});

describe('reconnect (opt-in)', () => {
  it('socat restarted: the port reopens the same path, emits reconnect, and I/O continues; queued writes are sent', async () => {
    const a = track(open(pair.a, { runtime: rt, baudRate: 250000, reconnect: { interval: 20 } }));
    const events: string[] = [];
    a.on('disconnect', (i: DisconnectInfo) => events.push(`disconnect:${i.reason === 'error' ? 'error' : 'lost'}`));
    a.on('reconnect', () => events.push('reconnect'));
    const got: Buffer[] = [];
    a.on('data', (c: Buffer) => got.push(c));

    const disconnected = once(a, 'disconnect');
    await pair.stop();
    await disconnected;
    expect(a.isOpen).toBe(false);
    // Written while disconnected: queued, not lost, not an error.
    a.write('queued while away');

    const reconnected = once(a, 'reconnect');
    await pair.start();
    await reconnected;
    expect(a.isOpen).toBe(true);
    expect(a.disconnectReason).toBeUndefined();
    expect(a.settings.baudRate).toBe(250000);
    expect(events).toEqual(['disconnect:lost', 'reconnect']);

    const b = track(open(pair.b, { runtime: rt }));
    const atB: Buffer[] = [];
    b.on('data', (c: Buffer) => atB.push(c));
    b.write('after reconnect');
    await until('data at A after reconnect', () => Buffer.concat(got).toString() === 'after reconnect');
    // The write queued while disconnected went out as soon as the port was back; socat held it for B.
    await until('queued data at B', () => Buffer.concat(atB).toString() === 'queued while away');
  });

  it('gives up after maxAttempts and then ends like a plain disconnect', async () => {
    const a = track(open(pair.a, { runtime: rt, reconnect: { interval: 5, maxAttempts: 3 } }));
    a.resume();
    const failed = once(a, 'reconnectFailed') as Promise<[unknown]>;
    const closed = once(a, 'close');
    await pair.stop();
    const [error] = await failed;
    expect(error).toBeInstanceOf(ErrnoError);
    expect((error as ErrnoError).code).toBe('ENOENT');
    await closed;
    expect(a.destroyed).toBe(true);
  });
});

describe('port watcher', () => {
  it('reports a pty link appearing and disappearing (socat started and stopped), polling on runtime timers', async () => {
    await pair.stop();
    const watcher = watchPorts({ runtime: rt, interval: 10, paths: [pair.a], pathWatch: false });
    expect(watcher.usesPathWatch).toBe(false);
    const added = once(watcher, 'add') as Promise<[PortInfo]>;
    await pair.start();
    const [info] = await added;
    expect(info.path).toBe(pair.a);
    expect(watcher.ports.map((p) => p.path)).toContain(pair.a);
    const removed = once(watcher, 'remove') as Promise<[PortInfo]>;
    await pair.stop();
    expect((await removed)[0].path).toBe(pair.a);
    watcher.close();
  });

  // Needs a backend with path watching (inotify): @fdloop/backend-epoll with event sources. The interval is an
  // hour, so only the directory watch can have noticed the change.
  const hasPathWatch = epoll().capabilities.pathWatch;
  it.skipIf(!hasPathWatch)('with path watching (inotify), a link appearing is reported without waiting for the interval scan', async () => {
    await pair.stop();
    const watcher = watchPorts({ runtime: rt, interval: 3_600_000, paths: [pair.a] });
    expect(watcher.usesPathWatch).toBe(true);
    const added = once(watcher, 'add') as Promise<[PortInfo]>;
    await pair.start();
    expect((await added)[0].path).toBe(pair.a);
    const removed = once(watcher, 'remove') as Promise<[PortInfo]>;
    await pair.stop();
    expect((await removed)[0].path).toBe(pair.a);
    watcher.close();
  });
});
