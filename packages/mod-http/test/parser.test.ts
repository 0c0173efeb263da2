import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HttpParseError } from '@fdloop/core';
import { HttpParser, type MessageHead } from '../src/parser.js';
import { CASE_LIMITS, LIMIT_CASES, REFUSED, VALID } from './cases.js';

/** Everything a parser reported, as comparable data. */
interface Trace {
  events: string[];
  error: number;
}

function run(isRequest: boolean, pieces: Buffer[], limits = CASE_LIMITS, headRequest = false): Trace {
  const events: string[] = [];
  let body = 0;
  const parser = new HttpParser(isRequest, limits, {
    onHead(head: MessageHead) {
      events.push(`head ${head.method}${head.status} ${head.target} 1.${head.versionMinor} ${head.headers.join('|')} cl=${head.contentLength} ch=${head.chunked} ka=${head.keepAlive}`);
      return headRequest;
    },
    onBody(chunk) {
      body += chunk.length;
      events.push(`body ${chunk.toString('latin1')}`);
    },
    onComplete(trailers) {
      events.push(`end ${body} ${trailers?.join('|') ?? ''}`);
      body = 0;
    },
  });
  try {
    for (const p of pieces) parser.execute(p);
    if (!isRequest) parser.finish();
    return { events: mergeBodies(events), error: 0 };
  } catch (error) {
    if (!(error instanceof HttpParseError)) throw error;
    return { events: mergeBodies(events), error: error.status };
  }
}

// Body pieces depend on how the input was split; their concatenation does not.
function mergeBodies(events: string[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (e.startsWith('body ') && last?.startsWith('body ')) out[out.length - 1] = last + e.slice(5);
    else out.push(e);
  }
  return out;
}

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('RFC 9112 conformance table (parser)', () => {
  for (const c of VALID) {
    it(`accepts: ${c.name} (${c.rfc})`, () => {
      const t = run(true, [bytes(c.raw)]);
      expect(t.error).toBe(0);
      expect(t.events.at(-1)).toMatch(/^end /);
    });
  }
  for (const c of [...REFUSED, ...LIMIT_CASES]) {
    it(`refuses with ${c.status}: ${c.name} (${c.rfc})`, () => {
      expect(run(true, [bytes(c.raw)]).error).toBe(c.status);
    });
  }
  it('has at least 100 refusal cases', () => {
    expect(REFUSED.length + LIMIT_CASES.length).toBeGreaterThanOrEqual(100);
  });
});

describe('incremental parsing', () => {
  it('gives the same result for every split point and byte by byte', () => {
    for (const c of [...VALID, ...REFUSED.slice(0, 40)]) {
      const whole = run(true, [bytes(c.raw)]);
      const raw = bytes(c.raw);
      for (let i = 1; i < raw.length; i++) {
        expect(run(true, [raw.subarray(0, i), raw.subarray(i)]), `${c.name} split at ${i}`).toEqual(whole);
      }
      expect(run(true, [...raw].map((b) => Buffer.from([b]))), `${c.name} byte by byte`).toEqual(whole);
    }
  });

  it('parses pipelined requests in one buffer', () => {
    const raw = VALID.map((c) => c.raw).join('');
    const t = run(true, [bytes(raw)]);
    expect(t.error).toBe(0);
    expect(t.events.filter((e) => e.startsWith('end')).length).toBe(VALID.length);
  });

  it('reads trailers and keeps header values exact (OWS trimmed, case kept)', () => {
    const t = run(true, [bytes(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Case:  MiXed \r\n\r\n2\r\nhi\r\n0\r\nX-Sum: 42\r\n\r\n`)]);
    expect(t.events).toEqual([
      'head POST0 / 1.1 host|a|transfer-encoding|chunked|x-case|MiXed cl=-1 ch=true ka=true',
      'body hi',
      'end 2 x-sum|42',
    ]);
  });

  it('parses responses: length, chunked, until close, no body for HEAD/204/304, 1xx skipped', () => {
    expect(run(false, [bytes('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')]).events.at(-1)).toBe('end 2 ');
    expect(run(false, [bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n')]).events.at(-1)).toBe('end 2 ');
    const eof = run(false, [bytes('HTTP/1.0 200 OK\r\n\r\nuntil close')]);
    expect(eof.events).toContain('body until close');
    expect(eof.events.at(-1)).toBe('end 11 ');
    expect(run(false, [bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n')], CASE_LIMITS, true).events.at(-1)).toBe('end 0 ');
    expect(run(false, [bytes('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n')]).events.at(-1)).toBe('end 0 ');
    const cont = run(false, [bytes('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n')]);
    expect(cont.events.filter((e) => e.startsWith('head')).length).toBe(2);
    expect(run(false, [bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab')]).error).toBe(400); // cut off
    expect(run(false, [bytes('HTTP/1.1 2000 OK\r\n\r\n')]).error).toBe(400);
    expect(run(false, [bytes('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')]).error).toBe(400);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Fuzzing: a seeded mutation fuzzer over the corpus in test/corpus (plus the conformance table). Properties:
//   1. the parser throws nothing but HttpParseError (with a status a server can send);
//   2. feeding the same bytes in random pieces gives exactly the same events and error as feeding them at once;
//   3. a body never exceeds its Content-Length and never exceeds maxBodyBytes.
// FUZZ_ITERATIONS sets the number of inputs (default 4000, bounded for CI); FUZZ_SEED the seed.

const STATUSES = new Set([400, 413, 414, 417, 431, 501, 505]);

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

const INTERESTING = bytes('\r\n \t:;,"0123456789abcdefABCDEF\x00\x7f\xff-chunked Content-Length Transfer-Encoding Host HTTP/1.1 ');
const TOKENS = [
  '\r\n',
  '\r\n\r\n',
  '\n',
  '\r',
  ' ',
  'Transfer-Encoding: chunked\r\n',
  'Content-Length: 5\r\n',
  'Content-Length: 0\r\n',
  'Host: x\r\n',
  '0\r\n\r\n',
  'ffffffff\r\n',
  ';ext=1',
  'Expect: 100-continue\r\n',
  'Connection: close\r\n',
  'GET / HTTP/1.1\r\n',
].map(bytes);

function mutate(input: Buffer, random: () => number, corpus: Buffer[]): Buffer {
  let out = input;
  const rounds = 1 + Math.floor(random() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(random() * (out.length + 1));
    switch (Math.floor(random() * 7)) {
      case 0: // flip a byte
        if (out.length > 0) {
          out = Buffer.from(out);
          out[Math.min(at, out.length - 1)] = Math.floor(random() * 256);
        }
        break;
      case 1: // insert an interesting byte
        out = Buffer.concat([out.subarray(0, at), INTERESTING.subarray(Math.floor(random() * INTERESTING.length)).subarray(0, 1), out.subarray(at)]);
        break;
      case 2: // delete a range
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + Math.floor(random() * 8)))]);
        break;
      case 3: // insert a protocol token
        out = Buffer.concat([out.subarray(0, at), TOKENS[Math.floor(random() * TOKENS.length)] as Buffer, out.subarray(at)]);
        break;
      case 4: // duplicate a range
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.floor(random() * out.length)).subarray(0, 16), out.subarray(at)]);
        break;
      case 5: // splice with another corpus entry
        out = Buffer.concat([out.subarray(0, at), (corpus[Math.floor(random() * corpus.length)] as Buffer).subarray(Math.floor(random() * 32))]);
        break;
      default: // replace a digit run with a big number
        out = Buffer.from(out.toString('latin1').replace(/\d+/, String(Math.floor(random() * 2 ** 40))), 'latin1');
    }
  }
  return out;
}

function randomPieces(input: Buffer, random: () => number): Buffer[] {
  const pieces: Buffer[] = [];
  let i = 0;
  while (i < input.length) {
    const n = 1 + Math.floor(random() * Math.min(64, input.length - i));
    pieces.push(input.subarray(i, i + n));
    i += n;
  }
  return pieces;
}

function loadCorpus(): Buffer[] {
  const dir = join(import.meta.dirname, 'corpus');
  const files = readdirSync(dir).filter((f) => f.endsWith('.http'));
  return [...files.map((f) => readFileSync(join(dir, f))), ...VALID.map((c) => bytes(c.raw))];
}

describe('fuzz (property-based, seeded, bounded)', () => {
  const iterations = Number(process.env.FUZZ_ITERATIONS ?? 4000);
  const seed = Number(process.env.FUZZ_SEED ?? 0x5eed);

  it(`keeps its properties over ${iterations} mutated inputs (seed ${seed})`, () => {
    const corpus = loadCorpus();
    expect(corpus.length).toBeGreaterThanOrEqual(10);
    const random = rng(seed);
    const limits = { maxHeaderBytes: 2048, maxHeaderCount: 20, maxBodyBytes: 4096 };
    for (let n = 0; n < iterations; n++) {
      const input = mutate(corpus[Math.floor(random() * corpus.length)] as Buffer, random, corpus);
      for (const isRequest of [true, false]) {
        let whole: Trace;
        try {
          whole = run(isRequest, [input], limits);
        } catch (error) {
          throw new Error(`non-HTTP error for input ${JSON.stringify(input.toString('latin1'))}: ${String(error)}`);
        }
        if (whole.error !== 0) expect(STATUSES.has(whole.error), `status ${whole.error}`).toBe(true);
        const pieces = run(isRequest, randomPieces(input, random), limits);
        expect(pieces, `split mismatch for ${JSON.stringify(input.toString('latin1'))}`).toEqual(whole);
        for (const e of whole.events) {
          if (e.startsWith('end ')) expect(Number(e.split(' ')[1])).toBeLessThanOrEqual(limits.maxBodyBytes);
        }
      }
    }
  });
});
