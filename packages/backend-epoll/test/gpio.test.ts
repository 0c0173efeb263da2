// GPIO character device v2. This machine has no gpiochip, so:
// - struct layouts are checked at compile time (static_asserts against <linux/gpio.h> in native/sources/gpio.cc)
//   and here against the addon's own sizeof/offsetof values;
// - edge-event decoding is tested with a FAKE line request: recorded gpio_v2_line_event records written into a real
//   pipe, read through the runtime exactly as a request descriptor would be;
// - the error paths (missing chip, invalid offsets, bad options) run for real.
import { describe, expect, it } from 'vitest';
import { createRuntime, ErrnoError, InvalidArgumentError } from '@fdloop/core';
import { epoll, gpio, sys } from '../src/index.js';
import { nativeSources } from '../src/sources/native.js';

/** A recorded event as the kernel writes it (48 bytes, little-endian). */
function record(ts: bigint, id: number, offset: number, seqno: number, lineSeqno: number): Buffer {
  const b = Buffer.alloc(48);
  b.writeBigUInt64LE(ts, 0);
  b.writeUInt32LE(id, 8);
  b.writeUInt32LE(offset, 12);
  b.writeUInt32LE(seqno, 16);
  b.writeUInt32LE(lineSeqno, 20);
  return b;
}

describe('gpio', () => {
  it('encodes structs with the layout the addon was compiled with', () => {
    expect(nativeSources().gpio.layout).toEqual(gpio.GPIO_LAYOUT);
  });

  it('fake line request: decodes recorded edge events fed through a pipe', async () => {
    const rt = createRuntime({ backend: epoll() });
    const [r, w] = sys.pipe();
    try {
      const seen: gpio.GpioEdgeEvent[] = [];
      gpio.watchLineEvents(rt, r, (ev) => seen.push(ev));
      sys.write(w, Buffer.concat([record(123456789012345n, 1, 17, 1, 1), record(123456789999999n, 2, 17, 2, 2), record(2n ** 63n + 5n, 1, 4, 3, 1)]));
      sys.close(w);
      await rt.run();
      expect(seen).toEqual([
        { timestampNs: 123456789012345n, edge: 'rising', offset: 17, seqno: 1, lineSeqno: 1 },
        { timestampNs: 123456789999999n, edge: 'falling', offset: 17, seqno: 2, lineSeqno: 2 },
        { timestampNs: 2n ** 63n + 5n, edge: 'rising', offset: 4, seqno: 3, lineSeqno: 1 },
      ]);
    } finally {
      await rt.close();
      sys.close(r);
    }
  });

  it('fake line info: decodes a recorded gpio_v2_line_info', () => {
    const b = Buffer.alloc(256);
    b.write('LED0', 0);
    b.write('fdloop', 32);
    b.writeUInt32LE(12, 64);
    b.writeUInt32LE(1, 68);
    b.writeBigUInt64LE(BigInt(gpio.GpioLineFlag.USED | gpio.GpioLineFlag.INPUT | gpio.GpioLineFlag.ACTIVE_LOW), 72);
    b.writeUInt32LE(3, 80); // GPIO_V2_LINE_ATTR_ID_DEBOUNCE
    b.writeUInt32LE(5000, 88);
    expect(gpio.decodeLineInfo(b)).toEqual({ name: 'LED0', consumer: 'fdloop', offset: 12, flags: 7, used: true, debounceUs: 5000 });
  });

  it('encodes a line request: offsets, consumer, flags, output values and debounce at the kernel offsets', () => {
    const b = gpio.encodeLineRequest({ offsets: [3, 5], consumer: 'test', direction: 'output', values: [true, false], drive: 'open-drain', activeLow: true });
    expect(b.readUInt32LE(0)).toBe(3);
    expect(b.readUInt32LE(4)).toBe(5);
    expect(b.toString('utf8', 256, 260)).toBe('test');
    expect(Number(b.readBigUInt64LE(288))).toBe(gpio.GpioLineFlag.OUTPUT | gpio.GpioLineFlag.ACTIVE_LOW | gpio.GpioLineFlag.OPEN_DRAIN);
    expect(b.readUInt32LE(296)).toBe(1); // one attribute: output values
    expect(b.readUInt32LE(320)).toBe(2); // GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES
    expect(b.readBigUInt64LE(328)).toBe(1n);
    expect(b.readBigUInt64LE(336)).toBe(3n);
    expect(b.readUInt32LE(560)).toBe(2);
    const d = gpio.encodeLineRequest({ offsets: [0], edge: 'both', bias: 'pull-up', debounceUs: 1000 });
    expect(Number(d.readBigUInt64LE(288))).toBe(gpio.GpioLineFlag.INPUT | gpio.GpioLineFlag.EDGE_RISING | gpio.GpioLineFlag.EDGE_FALLING | gpio.GpioLineFlag.BIAS_PULL_UP);
    expect(d.readUInt32LE(320)).toBe(3);
    expect(d.readUInt32LE(328)).toBe(1000);
  });

  it('fails with ENOENT naming the path for a missing gpiochip', () => {
    for (const call of [() => gpio.chipInfo('/dev/gpiochip0'), () => gpio.requestLines('/dev/gpiochip0', { offsets: [1] }), () => gpio.lineInfo('/dev/gpiochip0', 0)]) {
      let caught: unknown;
      try {
        call();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ErrnoError);
      expect((caught as ErrnoError).code).toBe('ENOENT');
      expect((caught as ErrnoError).path).toBe('/dev/gpiochip0');
    }
  });

  it('refuses invalid line offsets and options before touching the chip', () => {
    for (const offsets of [[], [-1], [1.5], [2, 2], Array.from({ length: 65 }, (_, i) => i), ['1']]) {
      expect(() => gpio.requestLines('/dev/gpiochip0', { offsets: offsets as number[] })).toThrow(InvalidArgumentError);
    }
    expect(() => gpio.validateOffsets([8], 8)).toThrow(/lines 0 to 7/);
    expect(() => gpio.encodeLineRequest({ offsets: [1], direction: 'output', edge: 'rising' })).toThrow(InvalidArgumentError);
    expect(() => gpio.encodeLineRequest({ offsets: [1], bias: 'sideways' as gpio.GpioBias })).toThrow(InvalidArgumentError);
    expect(() => gpio.encodeLineRequest({ offsets: [1], debounceUs: -1 })).toThrow(InvalidArgumentError);
  });
});
