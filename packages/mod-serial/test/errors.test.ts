// Bad input, each with its own typed error: a missing path (ENOENT), a file that is not a tty (ENOTTY), invalid
// baud rate / parity / data bits / stop bits and other options (InvalidArgumentError naming the option), writes
// and control calls after close (ClosedError), and nothing leaks when open fails.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClosedError, ErrnoError, ErrorCode, InvalidArgumentError, type Runtime } from '@fdloop/core';
import { open, type SerialPortOptions } from '../src/index.js';
import { disposeAllPairs, ptyPeer, runtime, type PtyPeer } from './helpers.js';

let rt: Runtime;
let peer: PtyPeer;

beforeEach(async () => {
  rt = runtime();
  peer = ptyPeer();
});

afterEach(async () => {
  await rt.close();
  await disposeAllPairs();
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('open() errors', () => {
  it('a missing path fails with ENOENT from open(2), naming the path', () => {
    const e = thrown(() => open('/dev/does-not-exist-fdloop', { runtime: rt }));
    expect(e).toBeInstanceOf(ErrnoError);
    expect(e).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/dev/does-not-exist-fdloop' });
  });

  it('a regular file fails with ENOTTY (not a terminal) and its descriptor is closed again', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fdloop-serial-file-'));
    try {
      const file = join(dir, 'plain.txt');
      writeFileSync(file, 'not a tty');
      const before = openFds();
      const e = thrown(() => open(file, { runtime: rt }));
      expect(e).toBeInstanceOf(ErrnoError);
      expect(e).toMatchObject({ code: 'ENOTTY', syscall: 'ioctl', path: file });
      expect(openFds()).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const invalid: Array<[string, Partial<SerialPortOptions>]> = [
    ['baudRate', { baudRate: 0 }],
    ['baudRate', { baudRate: -9600 }],
    ['baudRate', { baudRate: 9600.5 }],
    ['baudRate', { baudRate: '9600' as unknown as number }],
    ['parity', { parity: 'bogus' as 'none' }],
    ['dataBits', { dataBits: 9 as 8 }],
    ['dataBits', { dataBits: 4 as 8 }],
    ['stopBits', { stopBits: 1.5 as 1 }],
    ['rtscts', { rtscts: 'yes' as unknown as boolean }],
    ['options.exclusive', { exclusive: 1 as unknown as boolean }],
    ['options.readSize', { readSize: 0 }],
    ['options.reconnect.interval', { reconnect: { interval: -1 } }],
    ['options.rs485.delayRtsBeforeSend', { rs485: { delayRtsBeforeSend: -5 } }],
  ];
  for (const [argument, options] of invalid) {
    it(`invalid ${argument} ${JSON.stringify(Object.values(options)[0])} fails with InvalidArgumentError before touching the device`, () => {
      const before = openFds();
      const e = thrown(() => open(peer.path, { runtime: rt, ...options }));
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect(e).toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, argument });
      expect(openFds()).toBe(before);
      // The device was not even opened: an exclusive open still succeeds.
      return open(peer.path, { runtime: rt }).close();
    });
  }

  it('a missing runtime, path or options object is an InvalidArgumentError', () => {
    expect(thrown(() => open(peer.path, {} as SerialPortOptions))).toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, argument: 'options.runtime' });
    expect(thrown(() => open('', { runtime: rt }))).toMatchObject({ argument: 'path' });
    expect(thrown(() => open(peer.path, undefined as unknown as SerialPortOptions))).toMatchObject({ argument: 'options' });
  });

  it('update() validates too, and leaves the settings unchanged', async () => {
    const port = open(peer.path, { runtime: rt, baudRate: 19200 });
    await expect(port.update({ baudRate: 0 })).rejects.toMatchObject({ argument: 'baudRate' });
    await expect(port.update({ parity: 'x' as 'none' })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(port.settings.baudRate).toBe(19200);
    await port.close();
  });
});

describe('after close', () => {
  it('write() throws ClosedError (ERR_FDLOOP_CLOSED); control calls and update() fail the same way', async () => {
    const port = open(peer.path, { runtime: rt });
    await port.close();
    const e = thrown(() => port.write('late'));
    expect(e).toBeInstanceOf(ClosedError);
    expect(e).toMatchObject({ code: 'ERR_FDLOOP_CLOSED' });
    expect(() => port.getModemLines()).toThrow(ClosedError);
    expect(() => port.flush()).toThrow(ClosedError);
    await expect(port.update({ baudRate: 9600 })).rejects.toBeInstanceOf(ClosedError);
    await expect(port.drain()).rejects.toBeInstanceOf(ClosedError);
    expect(port.fd).toBe(-1);
    expect(port.isOpen).toBe(false);
    // close() is idempotent.
    await port.close();
  });

  it('writes still queued when the port closes fail with ClosedError through their callbacks', async () => {
    const port = open(peer.path, { runtime: rt, highWaterMark: 1024 });
    // Nobody reads the peer: fill the pty until writes queue up in the port.
    const errors: unknown[] = [];
    const big = Buffer.alloc(256 * 1024, 0x55);
    port.write(big, (err) => errors.push(err));
    port.on('error', () => {});
    await port.close();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ClosedError);
  });
});

describe('the native addon refuses bad arguments with JS exceptions, never an abort', () => {
  it('wrong types and ranges throw TypeError/RangeError', async () => {
    const { loadNative } = await import('../src/native.js');
    const n = loadNative();
    expect(() => n.read(-1, Buffer.alloc(1), 0, 1)).toThrow(RangeError);
    expect(() => n.read(0, 'x' as unknown as Uint8Array, 0, 1)).toThrow(TypeError);
    expect(() => n.write(0, Buffer.alloc(4), 2, 3)).toThrow(RangeError);
    expect(() => n.open(1 as unknown as string, true, new Int32Array(1))).toThrow(TypeError);
    expect(() => n.applySettings(0, new Int32Array(2), new Int32Array(9))).toThrow(TypeError);
    expect(() => n.applySettings(0, new Int32Array(9), new Int32Array(9))).toThrow(RangeError);
    expect(n.close(0x7ffffff0)).toBe(-9); // EBADF as a return value
  });
});
