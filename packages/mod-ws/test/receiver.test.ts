import { describe, expect, it } from 'vitest';
import { Receiver, type ReceiverSink } from '../src/receiver.js';
import { applyMask, headerLength, writeHeader } from '../src/frame.js';
import { closePayload, encodeFrame, type FrameSpec } from './peer.js';

type Event = [string, ...unknown[]];

function recorder(): { sink: ReceiverSink; events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    sink: {
      onMessage: (data, binary) => events.push(['message', binary, typeof data === 'string' ? data : Buffer.from(data).toString('hex')]),
      onPing: (data) => events.push(['ping', data.toString('hex')]),
      onPong: (data) => events.push(['pong', data.toString('hex')]),
      onClose: (code, reason) => events.push(['close', code, reason]),
      onViolation: (code, message) => events.push(['violation', code, message]),
    },
  };
}

const LIMITS = { maxFrameSize: 1 << 20, maxMessageSize: 1 << 21 };

/** Feed `bytes` to a fresh server-side receiver in pieces cut at `cuts` (each piece a fresh copy, as reads are). */
function parse(bytes: Buffer, cuts: number[], limits = LIMITS): Event[] {
  const { sink, events } = recorder();
  const r = new Receiver(true, limits, sink);
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    const piece = Buffer.from(bytes.subarray(start, cut));
    expect(r.write(piece)).toBe(piece.length);
    start = cut;
  }
  return events;
}

const STREAM: FrameSpec[] = [
  { opcode: 1, payload: 'hello' },
  { opcode: 2, payload: Buffer.from([0, 1, 2, 255]) },
  { opcode: 1, payload: '' },
  { opcode: 9, payload: 'ping!' },
  { opcode: 1, payload: 'κό', fin: false },
  { opcode: 10, payload: '' },
  { opcode: 0, payload: 'σμε', fin: false },
  { opcode: 0, payload: '', fin: true },
  { opcode: 2, payload: Buffer.alloc(126, 7) },
  { opcode: 1, payload: 'x'.repeat(300) },
  { opcode: 8, payload: closePayload(1000, 'bye') },
];

describe('Receiver', () => {
  const bytes = Buffer.concat(STREAM.map((f) => encodeFrame(f, true)));
  const whole = parse(bytes, []);

  it('parses a stream of frames into messages, control frames and the close', () => {
    expect(whole).toEqual([
      ['message', false, 'hello'],
      ['message', true, '000102ff'],
      ['message', false, ''],
      ['ping', Buffer.from('ping!').toString('hex')],
      ['pong', ''],
      ['message', false, 'κόσμε'],
      ['message', true, '07'.repeat(126)],
      ['message', false, 'x'.repeat(300)],
      ['close', 1000, 'bye'],
    ]);
  });

  it('gives the same events however the bytes are split (every single cut, every pair of nearby cuts)', () => {
    for (let a = 0; a <= bytes.length; a++) {
      expect(parse(bytes, [a]), `cut at ${a}`).toEqual(whole);
      for (let b = a; b <= Math.min(bytes.length, a + 16); b++) expect(parse(bytes, [a, b]), `cuts at ${a}, ${b}`).toEqual(whole);
    }
  });

  it('gives the same events one byte at a time', () => {
    expect(parse(bytes, Array.from({ length: bytes.length }, (_, i) => i))).toEqual(whole);
  });

  it('decodes 16-bit and 64-bit lengths, and a client (unmasked) stream on the client side', () => {
    const big = Buffer.alloc(70_000, 0x61);
    const frames = Buffer.concat([encodeFrame({ opcode: 1, payload: big }, false), encodeFrame({ opcode: 2, payload: Buffer.alloc(65535, 1) }, false)]);
    const { sink, events } = recorder();
    const r = new Receiver(false, LIMITS, sink);
    for (let i = 0; i < frames.length; i += 4093) r.write(Buffer.from(frames.subarray(i, i + 4093)));
    expect(events.map((e) => [e[0], e[1], (e[2] as string).length])).toEqual([
      ['message', false, 70_000],
      ['message', true, 65535 * 2],
    ]);
  });

  it('hold() stops after the message being delivered, and the rest parses after release()', () => {
    const { sink, events } = recorder();
    const holding: ReceiverSink = {
      ...sink,
      onMessage: (d, b) => {
        sink.onMessage(d, b);
        r.hold();
      },
    };
    const r = new Receiver(true, LIMITS, holding);
    const data = Buffer.concat([encodeFrame({ opcode: 1, payload: 'a' }, true), encodeFrame({ opcode: 1, payload: 'b' }, true)]);
    const used = r.write(data);
    expect(used).toBeLessThan(data.length);
    expect(events).toEqual([['message', false, 'a']]);
    r.release();
    expect(r.write(data, used)).toBe(data.length);
    expect(events).toEqual([
      ['message', false, 'a'],
      ['message', false, 'b'],
    ]);
  });

  it('refuses a message as too big from its header, before any payload arrives', () => {
    const head = Buffer.alloc(14);
    const end = writeHeader(head, 0, 2, true, (1 << 20) + 1, Buffer.from([1, 2, 3, 4]));
    expect(end).toBe(headerLength((1 << 20) + 1, true));
    expect(parse(head.subarray(0, end), [])).toEqual([['violation', 1009, 'frame of 1048577 bytes exceeds maxFrameSize 1048576']]);
  });

  it('applyMask is its own inverse at every alignment and phase', () => {
    const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
    const base = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
    for (let offset = 0; offset < 8; offset++) {
      for (let phase = 0; phase < 4; phase++) {
        const mem = Buffer.alloc(80);
        base.copy(mem, offset);
        applyMask(mem, offset, offset + 64, key, phase);
        for (let i = 0; i < 64; i++) expect(mem[offset + i]).toBe(i ^ (key[(phase + i) & 3] as number));
        applyMask(mem, offset, offset + 64, key, phase);
        expect(mem.subarray(offset, offset + 64)).toEqual(base);
      }
    }
  });
});
