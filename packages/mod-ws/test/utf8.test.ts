import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Utf8Validator } from '../src/utf8.js';

const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

/** Validate `bytes` fed in pieces cut at `cuts`; returns the offset of the piece that failed, or -1, and completeness. */
function feed(bytes: Buffer, cuts: number[]): { failedAt: number; complete: boolean } {
  const v = new Utf8Validator();
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (!v.write(bytes, start, cut)) return { failedAt: start, complete: false };
    start = cut;
  }
  return { failedAt: -1, complete: v.complete };
}

const VALID = [
  '', 'a', 'Hello-µ@ßöäüàá-UTF-8!!', 'κόσμε', '日本語テキスト', '😀👍🏽', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\ud7ff',
  '\ue000', '\ufffd', '\ufffe', '\uffff', '\u{10000}', '\u{10ffff}',
];

const INVALID = [
  '80', 'bf', 'c0 80', 'c1 bf', 'e0 80 80', 'e0 9f bf', 'f0 80 80 80', 'f0 8f bf bf', 'ed a0 80', 'ed bf bf', 'ed a0 80 ed b0 80',
  'f4 90 80 80', 'f5 80 80 80', 'f7 bf bf bf', 'f8 88 80 80 80', 'fc 84 80 80 80 80', 'fe', 'ff', 'c2 41', 'e1 80 41', 'f1 80 80 41',
];

describe('Utf8Validator', () => {
  it('accepts valid text whole, and cut at every position', () => {
    for (const text of VALID) {
      const bytes = Buffer.from(text);
      expect(feed(bytes, []), text).toEqual({ failedAt: -1, complete: true });
      for (let cut = 0; cut <= bytes.length; cut++) expect(feed(bytes, [cut]), `${text} cut at ${cut}`).toEqual({ failedAt: -1, complete: true });
      const everyByte = Array.from({ length: bytes.length }, (_, i) => i);
      expect(feed(bytes, everyByte)).toEqual({ failedAt: -1, complete: true });
    }
  });

  it('refuses invalid sequences whole and cut at every position', () => {
    for (const hex of INVALID) {
      const bytes = h(hex);
      expect(feed(bytes, []).failedAt, hex).toBe(0);
      for (let cut = 0; cut <= bytes.length; cut++) expect(feed(bytes, [cut]).failedAt, `${hex} cut at ${cut}`).not.toBe(-1);
    }
  });

  it('reports a truncated final character as incomplete, not invalid', () => {
    for (const hex of ['c2', 'e0 a0', 'f0 90 80', 'e2 82', 'f4 8f bf']) expect(feed(h(hex), [])).toEqual({ failedAt: -1, complete: false });
  });

  it('fails fast: at the piece holding the first impossible byte', () => {
    // κόσμε, then F4 90 (above U+10FFFF from its second byte on), then more.
    const bytes = h('cebae1bdb9cf83cebcceb5 f490 8080 656469746564');
    expect(feed(bytes, [11, 12, 13, 15]).failedAt).toBe(12);
    expect(feed(h('cebae1bdb9cf83cebcceb5 f4'), []).failedAt).toBe(-1);
  });

  it('agrees with node:buffer isUtf8 on random bytes and on long texts cut anywhere (native fast path)', () => {
    let seed = 12345;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let n = 0; n < 3000; n++) {
      const len = 1 + Math.floor(rand() * 300);
      // Mostly valid text with a few random bytes, so both outcomes are common.
      const text = Buffer.from(Array.from({ length: len }, () => String.fromCodePoint(Math.floor(rand() * (rand() < 0.8 ? 0x800 : 0x10ffff)))).join('').replace(/[\ud800-\udfff]/g, 'x'));
      if (rand() < 0.5) text[Math.floor(rand() * text.length)] = Math.floor(rand() * 256);
      const cuts = [Math.floor(rand() * text.length)].sort((a, b) => a - b);
      const r = feed(text, cuts);
      expect(r.failedAt === -1 && r.complete, text.toString('hex')).toBe(isUtf8(text));
    }
  });
});
