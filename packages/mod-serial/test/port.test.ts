// A serial port on a real pty (openpty; the test talks to the master): echo, a 10 MiB transfer with a checksum,
// backpressure both ways, custom baud rates read back from the kernel, update(), exclusive access, and the
// control operations. A pty ignores the baud rate: these tests prove settings read back, not timing.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrnoError, type Runtime } from '@fdloop/core';
import { open, type SerialPort } from '../src/index.js';
import { disposeAllPairs, pattern, ptyPeer, runtime, until, type PtyPeer } from './helpers.js';

let rt: Runtime;
let peer: PtyPeer;
const ports: SerialPort[] = [];

function openPort(path: string, options: Omit<Parameters<typeof open>[1], 'runtime'> = {}): SerialPort {
  const p = open(path, { runtime: rt, ...options });
  ports.push(p);
  return p;
}

beforeEach(async () => {
  rt = runtime();
  peer = ptyPeer();
});

afterEach(async () => {
  for (const p of ports.splice(0)) await p.close();
  await rt.close();
  await disposeAllPairs();
});

async function readExactly(port: SerialPort, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  for await (const chunk of port.chunks()) {
    parts.push(chunk);
    got += chunk.byteLength;
    if (got >= size) break;
  }
  return Buffer.concat(parts);
}

describe('data', () => {
  it('echoes: port -> peer -> back to the port, read with an async iterator', async () => {
    const a = openPort(peer.path, { baudRate: 115200 });
    peer.echo((chunk) => chunk.toString().toUpperCase());
    a.write('hello serial');
    const echoed = await readExactly(a, 12);
    expect(echoed.toString()).toBe('HELLO SERIAL');
  });

  it('data callbacks deliver what the peer sends', async () => {
    const a = openPort(peer.path, { baudRate: 115200 });
    const got: Buffer[] = [];
    a.on('data', (chunk: Buffer) => got.push(chunk));
    await peer.write('from the other side');
    await until('the data event', () => Buffer.concat(got).toString() === 'from the other side');
  });

  it('transfers 10 MiB with an identical SHA-256 on the other side', async () => {
    const size = 10 * 1024 * 1024;
    const data = pattern(size);
    const a = openPort(peer.path);
    const received = createHash('sha256');
    let got = 0;
    const done = (async () => {
      for await (const chunk of peer.chunks()) {
        received.update(chunk);
        got += chunk.byteLength;
        if (got >= size) break;
      }
    })();
    // Write in 64 KiB pieces honouring backpressure, as a well-behaved producer does.
    for (let off = 0; off < size; off += 65536) {
      if (!a.write(data.subarray(off, off + 65536))) await once(a, 'drain');
    }
    await done;
    expect(got).toBe(size);
    expect(received.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('honours backpressure when writing: with nobody reading the peer, write() === false; nothing is lost', async () => {
    const a = openPort(peer.path, { highWaterMark: 16 * 1024 });
    const total = 1024 * 1024;
    const data = pattern(total, 7);
    // Nobody reads the peer yet: the pty fills up, then the port's own queue, then its stream buffer.
    let off = 0;
    while (off < total && a.write(data.subarray(off, off + 8192))) off += 8192;
    expect(off).toBeLessThan(total);
    const sink = createHash('sha256');
    let got = 0;
    const reading = (async () => {
      for await (const c of peer.chunks()) {
        sink.update(c);
        got += c.byteLength;
        if (got >= total) break;
      }
    })();
    off += 8192;
    while (off < total) {
      if (a.writableNeedDrain) await once(a, 'drain');
      while (off < total && a.write(data.subarray(off, off + 8192))) off += 8192;
      if (off < total) off += 8192;
    }
    await reading;
    expect(got).toBe(total);
    expect(sink.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('honours backpressure when reading: a paused port reads at most its high-water mark; nothing is lost', async () => {
    const b = openPort(peer.path, { highWaterMark: 16 * 1024, readSize: 4096 });
    const total = 1024 * 1024;
    const data = pattern(total, 7);
    // The peer's write can only complete once the port reads: the pty holds a few KiB.
    const sent = peer.write(data);
    // The port read at most its high-water mark (plus one read) into its stream buffer while nobody consumed it.
    b.resume();
    b.pause();
    await rt.sleep(50);
    expect(b.readableLength).toBeLessThanOrEqual(16 * 1024 + 4096);
    const sink = createHash('sha256');
    let got = 0;
    b.on('data', (c: Buffer) => {
      sink.update(c);
      got += c.byteLength;
    });
    b.resume();
    await sent;
    await until('all data', () => got >= total);
    expect(got).toBe(total);
    expect(sink.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });
});

describe('settings', () => {
  it('sets a custom baud rate (250000, via termios2 BOTHER) and reads it back from the kernel', () => {
    const a = openPort(peer.path, { baudRate: 250000, stopBits: 2 });
    expect(a.settings).toMatchObject({ baudRate: 250000, stopBits: 2, dataBits: 8, parity: 'none' });
    // A second descriptor on the same tty sees the same kernel settings.
    const other = openPort(peer.path, { exclusive: false, baudRate: 250000 });
    expect(other.settings.baudRate).toBe(250000);
  });

  it('settings reads back what the driver accepted: the pty driver forces 8 data bits and no parity', () => {
    // Linux's pty driver (since 5.19) clears CSIZE/PARENB changes: a pty has no character framing. The port
    // reports the kernel's answer, not the request.
    const a = openPort(peer.path, { baudRate: 57600, dataBits: 7, parity: 'even' });
    expect(a.settings).toMatchObject({ baudRate: 57600, dataBits: 8, parity: 'none' });
  });

  it('update() changes the baud rate of an open port after draining, and flow control flags read back', async () => {
    const a = openPort(peer.path, { baudRate: 9600 });
    a.write('before');
    const s = await a.update({ baudRate: 31250, rtscts: true, xon: true, xoff: true, xany: true });
    expect(s).toMatchObject({ baudRate: 31250, rtscts: true, xon: true, xoff: true, xany: true });
    expect(a.settings.baudRate).toBe(31250);
    const s2 = await a.update({ baudRate: 1_000_000, xon: false }, { drain: false });
    expect(s2).toMatchObject({ baudRate: 1_000_000, rtscts: true, xon: false, xoff: true });
  });

  it('exclusive open (the default) makes a second open fail with EBUSY; closing releases it', async () => {
    const a = openPort(peer.path);
    let caught: unknown;
    try {
      openPort(peer.path);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ErrnoError);
    expect(caught).toMatchObject({ code: 'EBUSY', syscall: 'flock', path: peer.path });
    await a.close();
    expect(() => openPort(peer.path).fd).not.toThrow();
  });

  it('low latency is not offered by ptys: the port opens and reports lowLatency === false', () => {
    const a = openPort(peer.path, { lowLatency: true });
    expect(a.lowLatency).toBe(false);
  });
});

describe('control', () => {
  it('modem lines on a pty fail with a typed ENOTTY (ptys have none)', () => {
    const a = openPort(peer.path);
    for (const call of [() => a.getModemLines(), () => a.setModemLines({ dtr: true, rts: false })]) {
      let caught: unknown;
      try {
        call();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(ErrnoError);
      expect(caught).toMatchObject({ code: 'ENOTTY', syscall: 'ioctl' });
    }
  });

  it('RS-485 on a pty fails with a typed ENOTTY, as an open option too', () => {
    const a = openPort(peer.path);
    expect(() => a.getRs485()).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
    expect(() => a.setRs485({ enabled: true })).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
    expect(() => openPort(ptyPeer().path, { rs485: { enabled: true } })).toThrow(expect.objectContaining({ code: 'ENOTTY', syscall: 'ioctl' }));
  });

  it('flush("input") discards received bytes the program has not read', async () => {
    const b = openPort(peer.path);
    b.pause();
    await peer.write('stale');
    await until('bytes queued at the port', () => b.inputQueueLength() > 0 || b.readableLength > 0);
    // The port reads eagerly only when asked; nothing was asked yet, so the bytes are in the kernel.
    expect(b.readableLength).toBe(0);
    b.flush('input');
    expect(b.inputQueueLength()).toBe(0);
    await peer.write('fresh');
    expect((await readExactly(b, 5)).toString()).toBe('fresh');
  });

  it('drain() resolves once the kernel output queue is empty, and sendBreak() completes without blocking', async () => {
    const a = openPort(peer.path);
    const reading = (async () => {
      let got = 0;
      for await (const c of peer.chunks()) if ((got += c.byteLength) >= 200_000) break;
    })();
    a.write(pattern(200_000));
    await a.drain();
    expect(a.pendingWrite).toBe(0);
    expect(a.outputQueueLength()).toBe(0);
    let ticked = false;
    rt.setTimeout(() => (ticked = true), 1);
    await a.sendBreak(20);
    // The loop kept running during the break: a 1 ms timer fired.
    expect(ticked).toBe(true);
    await reading;
  });
});

describe('lifetime', () => {
  it('an open port keeps run() going until it is closed; an unref()d one does not', async () => {
    const a = openPort(peer.path);
    let closedFirst = false;
    await rt.run(() => {
      rt.setTimeout(() => {
        closedFirst = true;
        void a.close();
      }, 5);
    });
    expect(closedFirst).toBe(true);
    const b = openPort(ptyPeer().path).unref();
    await rt.run();
    expect(b.isOpen).toBe(true);
  });

  it('await using closes the port and releases its lock', async () => {
    {
      await using held = open(peer.path, { runtime: rt });
      expect(held.isOpen).toBe(true);
    }
    expect(openPort(peer.path).isOpen).toBe(true);
  });
});
