// Every parser in both forms (Transform stream and async-iterator helper), fed the same bytes split in every
// way: whole, one byte at a time, and at seeded random points. Frames must not depend on the split. One test
// runs a parser over a real pty pair.
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@fdloop/core';
import {
  betweenMarkers,
  ByteLengthParser,
  DelimiterParser,
  delimited,
  fixedLength,
  InterByteTimeoutParser,
  interByteTimeout,
  lines,
  open,
  ReadlineParser,
  RegexParser,
  regexSplit,
  SlipDecoder,
  SlipEncoder,
  slipEncode,
  slipFrames,
  StartEndParser,
  type SerialPort,
} from '../src/index.js';
import { disposeAllPairs, pattern, ptyPeer, runtime } from './helpers.js';

function splits(data: Buffer): Array<[string, Buffer[]]> {
  const random: Buffer[] = [];
  const cuts = pattern(data.byteLength + 1, 42);
  for (let i = 0; i < data.byteLength; ) {
    const n = 1 + ((cuts[i] as number) % 7);
    random.push(data.subarray(i, i + n));
    i += n;
  }
  return [
    ['whole', [data]],
    ['byte by byte', [...data].map((b) => Buffer.from([b]))],
    ['random splits', random],
  ];
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function viaTransform<T>(chunks: Buffer[], t: NodeJS.ReadWriteStream): Promise<T[]> {
  return collect<T>(Readable.from(chunks, { objectMode: false }).pipe(t) as unknown as AsyncIterable<T>);
}

async function* source(chunks: Buffer[]): AsyncGenerator<Buffer> {
  for (const c of chunks) yield c;
}

const str = (frames: Array<Buffer | string>): string[] => frames.map((f) => f.toString());

describe('delimiter and lines', () => {
  const data = Buffer.from('alpha\r\nbeta\r\n\r\ngamma\r\ndelta-no-end');
  for (const [name, chunks] of splits(data)) {
    it(`delimiter '\\r\\n' (${name})`, async () => {
      const expected = ['alpha', 'beta', '', 'gamma', 'delta-no-end'];
      expect(str(await viaTransform(chunks, new DelimiterParser({ delimiter: '\r\n' })))).toEqual(expected);
      expect(str(await collect(delimited(source(chunks), { delimiter: [13, 10] })))).toEqual(expected);
      expect(str(await collect(delimited(source(chunks), { delimiter: '\r\n', includeDelimiter: true })))).toEqual(
        ['alpha\r\n', 'beta\r\n', '\r\n', 'gamma\r\n', 'delta-no-end'],
      );
    });
    it(`lines as strings, UTF-8 kept whole (${name})`, async () => {
      const text = Buffer.from('grüße\n日本語\nend');
      const parts = splits(text).find(([n]) => n === name)?.[1] ?? [];
      expect(await viaTransform(parts, new ReadlineParser())).toEqual(['grüße', '日本語', 'end']);
      expect(await collect(lines(source(parts)))).toEqual(['grüße', '日本語', 'end']);
    });
  }

  for (const [name, chunks] of splits(Buffer.from('abcdefg\r\nabc\r\nhi'))) {
    it(`maxLength cuts long frames at the same places however the bytes arrive, and drops nothing (${name})`, async () => {
      const frames = await collect(delimited(source(chunks), { delimiter: '\r\n', maxLength: 3 }));
      expect(str(frames)).toEqual(['abc', 'def', 'g', 'abc', 'hi']);
    });
  }
});

describe('fixed length', () => {
  const data = pattern(100, 3);
  for (const [name, chunks] of splits(data)) {
    it(`frames of 8 bytes, a short last one (${name})`, async () => {
      const expected = Array.from({ length: 13 }, (_, i) => data.subarray(i * 8, i * 8 + 8));
      expect(await viaTransform(chunks, new ByteLengthParser({ length: 8 }))).toEqual(expected);
      expect(await collect(fixedLength(source(chunks), { length: 8 }))).toEqual(expected);
    });
  }
});

describe('SLIP', () => {
  const packets = [Buffer.from([1, 0xc0, 2]), Buffer.from([0xdb, 0xdb, 0xc0]), Buffer.from('plain'), Buffer.from([0xdc, 0xdd])];
  const wire = Buffer.concat([Buffer.from([0xc0, 0xc0]), ...packets.map(slipEncode)]);
  it('encodes END and ESC as escapes', () => {
    expect([...slipEncode(Buffer.from([1, 0xc0, 2]))]).toEqual([0xc0, 1, 0xdb, 0xdc, 2, 0xc0]);
  });
  for (const [name, chunks] of splits(wire)) {
    it(`decodes the packets back, escapes split anywhere (${name})`, async () => {
      expect(await viaTransform(chunks, new SlipDecoder())).toEqual(packets);
      expect(await collect(slipFrames(source(chunks)))).toEqual(packets);
    });
  }
  it('SlipEncoder turns each written packet into one frame', async () => {
    const enc = new SlipEncoder();
    const out = collect<Buffer>(enc as unknown as AsyncIterable<Buffer>);
    for (const p of packets) enc.write(p);
    enc.end();
    expect(Buffer.concat(await out)).toEqual(Buffer.concat(packets.map(slipEncode)));
  });
});

describe('regex', () => {
  const data = Buffer.from('one;two,,three;four');
  for (const [name, chunks] of splits(data)) {
    it(`splits on /[;,]+/ (${name})`, async () => {
      expect(await viaTransform(chunks, new RegexParser({ regex: /[;,]+/ }))).toEqual(['one', 'two', 'three', 'four']);
      expect(await collect(regexSplit(source(chunks), { regex: '[;,]+' }))).toEqual(['one', 'two', 'three', 'four']);
    });
  }
  it('refuses a regex that matches the empty string', () => {
    expect(() => new RegexParser({ regex: /x*/ })).toThrow(InvalidArgumentError);
  });
});

describe('start/end markers', () => {
  const data = Buffer.from('noise<<one>>junk<<two>><<three>><<unfinished');
  for (const [name, chunks] of splits(data)) {
    it(`frames between << and >> (${name})`, async () => {
      expect(str(await viaTransform(chunks, new StartEndParser({ start: '<<', end: '>>' })))).toEqual(['one', 'two', 'three']);
      expect(str(await collect(betweenMarkers(source(chunks), { start: '<<', end: '>>', includeMarkers: true })))).toEqual(
        ['<<one>>', '<<two>>', '<<three>>'],
      );
    });
  }
});

describe('inter-byte timeout', () => {
  // Frames are separated by real silence: the source waits for a promise the test resolves after the parser
  // has produced the previous frame, so no timing assumption is needed.
  it('ends a frame after the silence; pieces arriving back to back stay in one frame (async iterator)', async () => {
    let release!: () => void;
    async function* bursts(): AsyncGenerator<Buffer> {
      yield Buffer.from('ab');
      yield Buffer.from('cd');
      await new Promise<void>((r) => (release = r));
      yield Buffer.from('ef');
    }
    const frames: string[] = [];
    for await (const f of interByteTimeout(bursts(), { interval: 5 })) {
      frames.push(f.toString());
      if (frames.length === 1) release();
    }
    expect(frames).toEqual(['abcd', 'ef']);
  });

  it('maxBufferSize ends a frame at once; the Transform flushes the rest on end', async () => {
    const t = new InterByteTimeoutParser({ interval: 1000, maxBufferSize: 4 });
    const out = collect<Buffer>(t as unknown as AsyncIterable<Buffer>);
    t.write(Buffer.from('abcdef'));
    t.end();
    expect(str(await out)).toEqual(['abcd', 'ef']);
  });

  it('the Transform ends a frame after the silence', async () => {
    const t = new InterByteTimeoutParser({ interval: 5 });
    const frames: string[] = [];
    const first = new Promise<void>((resolve) => t.on('data', (f: Buffer) => (frames.push(f.toString()), resolve())));
    t.write(Buffer.from('x'));
    t.write(Buffer.from('y'));
    await first;
    t.write(Buffer.from('z'));
    t.end();
    await new Promise((r) => t.on('end', r));
    expect(frames).toEqual(['xy', 'z']);
  });
});

describe('bad parser options are typed', () => {
  it.each([
    () => new DelimiterParser({ delimiter: '' }),
    () => new ByteLengthParser({ length: 0 }),
    () => new InterByteTimeoutParser({ interval: -1 }),
    () => new StartEndParser({ start: 'x', end: 5 as unknown as string }),
    () => new ReadlineParser({ encoding: 'nope' as BufferEncoding }),
  ])('%#', (make) => {
    expect(make).toThrow(InvalidArgumentError);
  });
});

describe('over a real pty pair', () => {
  const opened: SerialPort[] = [];
  afterEach(async () => {
    for (const p of opened.splice(0)) await p.close();
    await disposeAllPairs();
  });

  it('lines() over port.chunks() and a ReadlineParser pipe see the same lines, sent in awkward pieces', async () => {
    const rt = runtime();
    const peer = ptyPeer();
    const b = open(peer.path, { runtime: rt });
    opened.push(b);
    const text = 'first line\nsecond\nthird and last\n';
    for (let i = 0; i < text.length; i += 5) await peer.write(text.slice(i, i + 5));
    const got: string[] = [];
    for await (const line of lines(b.chunks())) {
      got.push(line);
      if (got.length === 3) break;
    }
    expect(got).toEqual(['first line', 'second', 'third and last']);
    // The port stays open after leaving the loop: pipe it into a Transform now.
    const parser = b.pipe(new ReadlineParser());
    await peer.write('via pipe\n');
    const [line] = (await new Promise((resolve) => parser.once('data', (l: string) => resolve([l])))) as [string];
    expect(line).toBe('via pipe');
    b.unpipe(parser);
    for (const p of opened.splice(0)) await p.close();
    await rt.close();
  });
});
