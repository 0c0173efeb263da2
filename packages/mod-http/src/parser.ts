/**
 * A strict incremental HTTP/1.1 message parser (RFC 9112) for requests and responses, written for speed (one
 * pass over bytes, lookup tables, no regular expressions, no copy unless a head is split across reads) and for
 * strictness: everything that lets two parsers disagree about where a message ends is refused
 * (see the conformance table in the package README).
 *
 * @module
 */

import { HttpParseError } from '@fdloop/core';

/** Limits a parser enforces. */
export interface ParserLimits {
  /** Largest head (request or status line plus header lines), and largest trailer section. → 431. */
  readonly maxHeaderBytes: number;
  /** Most header fields in a head (and in a trailer section). → 431. */
  readonly maxHeaderCount: number;
  /** Largest body; `Infinity` for none. → 413. */
  readonly maxBodyBytes: number;
}

/** A parsed start line and header section. */
export interface MessageHead {
  /** Request method (requests), `''` for responses. */
  method: string;
  /** Request target as sent (requests), `''` for responses. */
  target: string;
  /** Status code (responses), `0` for requests. */
  status: number;
  /** Reason phrase (responses). */
  reason: string;
  /** `0` for HTTP/1.0, `1` for HTTP/1.1. */
  versionMinor: number;
  /** Header fields as a flat list: lower-case name, value, name, value… */
  headers: string[];
  /** The Content-Length, or `-1`. */
  contentLength: number;
  /** Whether the body is chunked. */
  chunked: boolean;
  /** Whether the connection may be reused after this message. */
  keepAlive: boolean;
  /** `Expect: 100-continue` was sent (requests). */
  expectContinue: boolean;
  /** `Connection: upgrade` with an `Upgrade` field. */
  upgrade: boolean;
}

/** What a parser tells its owner. Body chunks are views of the input, valid only during the call. */
export interface ParserHandler {
  /**
   * A head was parsed. For a response, return `true` when it has no body whatever its headers say (the answer
   * to a HEAD request).
   */
  onHead(head: MessageHead): boolean | void;
  /** A piece of the body. */
  onBody(chunk: Buffer): void;
  /** The message ended; `trailers` is the flat trailer list of a chunked body, if it had any. */
  onComplete(trailers: string[] | undefined): void;
}

const enum State {
  HEAD,
  BODY_LENGTH,
  CHUNK_SIZE,
  CHUNK_EXT,
  CHUNK_SIZE_LF,
  CHUNK_DATA,
  CHUNK_DATA_CR,
  CHUNK_DATA_LF,
  TRAILERS,
  BODY_EOF,
  DEAD,
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;

// RFC 9110 tchar: the bytes of a token (method, field name).
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TOKEN[c] = 1;
for (let c = 65; c <= 90; c++) TOKEN[c] = 1;
for (let c = 97; c <= 122; c++) TOKEN[c] = 1;

// field-vchar / obs-text plus SP and HTAB: what may appear inside a field value. CR, LF, NUL and other CTLs not.
const FIELD = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) FIELD[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD[c] = 1;
FIELD[SP] = 1;
FIELD[HTAB] = 1;

// A request target: visible ASCII only (RFC 3986 characters; no spaces, no controls, no raw non-ASCII bytes).
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;

// Host field value (RFC 3986 reg-name / IP-literal / port).
const HOST = new Uint8Array(256);
for (const c of "-._~!$&'()*+,;=:[]%") HOST[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) HOST[c] = 1;
for (let c = 65; c <= 90; c++) HOST[c] = 1;
for (let c = 97; c <= 122; c++) HOST[c] = 1;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[65 + c] = 10 + c;
  HEX[97 + c] = 10 + c;
}

type Latin1 = (buf: Buffer, start: number, end: number) => string;
// Buffer#latin1Slice is what buf.toString('latin1') ends in, without the encoding lookup; it exists in every
// Node version we support, but it is not documented, so fall back when it is missing.
const latin1: Latin1 =
  typeof (Buffer.prototype as unknown as { latin1Slice?: unknown }).latin1Slice === 'function'
    ? (buf, start, end) => (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end)
    : (buf, start, end) => buf.toString('latin1', start, end);

// Interned strings for the methods and field names nearly every message carries: matching their bytes in JS is
// cheaper than slicing a new string out of the buffer (a call into C++) and lower-casing it.
const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
const KNOWN_NAMES = [
  'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'connection', 'content-length',
  'content-type', 'transfer-encoding', 'cookie', 'referer', 'origin', 'authorization', 'cache-control',
  'upgrade-insecure-requests', 'if-none-match', 'if-modified-since', 'pragma', 'expect', 'upgrade', 'date',
  'server', 'keep-alive', 'te', 'x-forwarded-for', 'x-forwarded-proto', 'x-request-id', 'set-cookie',
  'content-encoding', 'etag', 'last-modified', 'location', 'vary', 'sec-fetch-mode', 'sec-fetch-site',
  'sec-fetch-dest', 'sec-fetch-user', 'dnt', 'range', 'trailer',
];

/** Strings by length, each with its bytes: a lookup compares bytes, lower-casing the input's when `fold`. */
function internTable(words: readonly string[]): { text: string; bytes: Uint8Array }[][] {
  const table: { text: string; bytes: Uint8Array }[][] = [];
  for (const text of words) (table[text.length] ??= []).push({ text, bytes: Buffer.from(text, 'latin1') });
  return table;
}
const METHOD_TABLE = internTable(KNOWN_METHODS);
const NAME_TABLE = internTable(KNOWN_NAMES);

/** The interned string equal to `data[start, end)` (ASCII letters folded to lower case when `fold`), if any. */
function interned(table: readonly { text: string; bytes: Uint8Array }[][], data: Buffer, start: number, end: number, fold: boolean): string | undefined {
  const candidates = table[end - start];
  if (candidates === undefined) return undefined;
  next: for (let k = 0; k < candidates.length; k++) {
    const { text, bytes } = candidates[k] as { text: string; bytes: Uint8Array };
    for (let j = 0; j < bytes.length; j++) {
      let c = data[start + j] as number;
      if (fold && c >= 65 && c <= 90) c += 32;
      if (c !== bytes[j]) continue next;
    }
    return text;
  }
  return undefined;
}

/** Heads shorter than this are searched for their end in JS; longer ones with `Buffer#indexOf` (memmem). */
const SHORT_SCAN = 256;

/** Offset of the first CR LF CR LF in `data[from, …)`, or -1. */
function findHeadEnd(data: Buffer, from: number): number {
  const n = data.length;
  if (n - from > SHORT_SCAN) return data.indexOf(CRLFCRLF, from);
  for (let i = from; i + 3 < n; i++) {
    if (data[i] === CR && data[i + 1] === LF && data[i + 2] === CR && data[i + 3] === LF) return i;
  }
  return -1;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_CHUNK_EXT = 4096;
const MAX_SIZE_DIGITS = 13; // 0xfffffffffffff < 2^53: every accepted size is an exact integer

function fail(status: number, message: string): never {
  throw new HttpParseError(status, message);
}

/**
 * An incremental parser for one connection: feed it bytes as they arrive with {@link HttpParser.execute};
 * it calls its handler for each head, body piece and message end, and throws an `HttpParseError`
 * (with the status a server should answer) at the first violation, after which it stays dead.
 */
export class HttpParser {
  /** Whether this parses requests (`true`) or responses. */
  readonly isRequest: boolean;
  private readonly limits: ParserLimits;
  private readonly handler: ParserHandler;
  private state = State.HEAD;
  private pending: Buffer | undefined;
  private remaining = 0;
  private bodyBytes = 0;
  private chunkDigits = 0;
  private chunkExtBytes = 0;
  private sawChunkSize = false;
  private stopped = false;
  private headCount = 0;

  constructor(isRequest: boolean, limits: ParserLimits, handler: ParserHandler) {
    this.isRequest = isRequest;
    this.limits = limits;
    this.handler = handler;
  }

  /** Whether the parser is between messages (nothing of the next one seen yet). */
  get idle(): boolean {
    return this.state === State.HEAD && this.pending === undefined;
  }

  /** Whether a message body is being read until the connection closes (a response without length). */
  get readingUntilClose(): boolean {
    return this.state === State.BODY_EOF;
  }

  /** Stop at the end of the current call: bytes after the current message are not parsed (returned unused). */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Parse `data`. Returns how many bytes were used: all of them, unless {@link HttpParser.stop} was called from a
   * handler (the rest belongs to whatever follows, for example an upgraded protocol).
   * @throws HttpParseError on the first protocol violation or exceeded limit.
   */
  execute(data: Buffer): number {
    if (this.state === State.DEAD) fail(400, 'the parser already failed');
    try {
      return this.run(data);
    } catch (error) {
      this.state = State.DEAD;
      this.pending = undefined;
      throw error;
    }
  }

  /**
   * The connection's input ended. Completes a response read until close.
   * @throws HttpParseError when a message was cut off in the middle.
   */
  finish(): void {
    if (this.state === State.BODY_EOF) {
      this.state = State.HEAD;
      this.handler.onComplete(undefined);
      return;
    }
    if (this.state !== State.HEAD || this.pending !== undefined) {
      this.state = State.DEAD;
      fail(400, 'the connection closed in the middle of a message');
    }
  }

  private run(input: Buffer): number {
    let data = input;
    let pos = 0;
    let prefix = 0; // bytes of `data` that came from `pending`, not from `input`
    const len = (): number => data.length;
    this.stopped = false;
    while (pos < len() && !this.stopped) {
      switch (this.state) {
        case State.HEAD: {
          if (this.pending !== undefined) {
            prefix = this.pending.length;
            data = Buffer.concat([this.pending, data.subarray(pos)]);
            pos = 0;
            this.pending = undefined;
          }
          // RFC 9112 §2.2: ignore at least one empty line before a request line (robustness after a body).
          while (pos + 1 < data.length && data[pos] === CR && data[pos + 1] === LF && this.headCount < 4) {
            pos += 2;
            this.headCount += 1;
          }
          // Bytes before `prefix` were searched and checked by an earlier call: a slowloris client sending one byte
          // at a time must not make every call rescan the whole head.
          const end = findHeadEnd(data, Math.max(pos, prefix - 3));
          if (end < 0) {
            this.checkPartialHead(data, pos, Math.max(pos, prefix - 1));
            this.pending = Buffer.from(data.subarray(pos));
            return input.length;
          }
          if (end + 4 - pos > this.limits.maxHeaderBytes) fail(431, 'the header section is too large');
          this.headCount = 0;
          this.parseHead(data, pos, end + 2);
          pos = end + 4;
          break;
        }
        case State.BODY_LENGTH: {
          const n = Math.min(this.remaining, len() - pos);
          this.remaining -= n;
          const chunk = data.subarray(pos, pos + n);
          pos += n;
          this.handler.onBody(chunk);
          if (this.remaining === 0) this.complete(undefined);
          break;
        }
        case State.BODY_EOF: {
          const chunk = data.subarray(pos);
          pos = len();
          this.countBody(chunk.length);
          this.handler.onBody(chunk);
          break;
        }
        case State.CHUNK_SIZE: {
          const c = data[pos] as number;
          const v = HEX[c] as number;
          if (v >= 0) {
            if (++this.chunkDigits > MAX_SIZE_DIGITS) fail(400, 'chunk size too large');
            this.remaining = this.remaining * 16 + v;
            this.sawChunkSize = true;
            pos += 1;
          } else if (!this.sawChunkSize) {
            fail(400, 'invalid chunk size');
          } else if (c === CR) {
            this.state = State.CHUNK_SIZE_LF;
            pos += 1;
          } else if (c === 0x3b /* ; */ || c === SP || c === HTAB) {
            this.state = State.CHUNK_EXT;
            this.chunkExtBytes = 0;
            pos += 1;
          } else {
            fail(400, 'invalid chunk size');
          }
          break;
        }
        case State.CHUNK_EXT: {
          const c = data[pos] as number;
          pos += 1;
          if (c === CR) this.state = State.CHUNK_SIZE_LF;
          else if (FIELD[c] !== 1 && c !== 0x22) fail(400, 'invalid byte in a chunk extension');
          else if (++this.chunkExtBytes > MAX_CHUNK_EXT) fail(400, 'chunk extension too long');
          break;
        }
        case State.CHUNK_SIZE_LF: {
          if (data[pos] !== LF) fail(400, 'bare CR after a chunk size');
          pos += 1;
          if (this.remaining === 0) {
            this.state = State.TRAILERS;
          } else {
            this.countBody(this.remaining);
            this.state = State.CHUNK_DATA;
          }
          break;
        }
        case State.CHUNK_DATA: {
          const n = Math.min(this.remaining, len() - pos);
          this.remaining -= n;
          const chunk = data.subarray(pos, pos + n);
          pos += n;
          if (this.remaining === 0) this.state = State.CHUNK_DATA_CR;
          this.handler.onBody(chunk);
          break;
        }
        case State.CHUNK_DATA_CR: {
          if (data[pos] !== CR) fail(400, 'chunk data not followed by CRLF');
          pos += 1;
          this.state = State.CHUNK_DATA_LF;
          break;
        }
        case State.CHUNK_DATA_LF: {
          if (data[pos] !== LF) fail(400, 'chunk data not followed by CRLF');
          pos += 1;
          this.startChunk();
          break;
        }
        case State.TRAILERS: {
          if (this.pending !== undefined) {
            prefix = this.pending.length;
            data = Buffer.concat([this.pending, data.subarray(pos)]);
            pos = 0;
            this.pending = undefined;
          }
          if (data.length - pos >= 2 && data[pos] === CR && data[pos + 1] === LF) {
            pos += 2;
            this.complete(undefined);
            break;
          }
          const end = findHeadEnd(data, Math.max(pos, prefix - 3));
          if (end < 0) {
            this.checkPartialHead(data, pos, Math.max(pos, prefix - 1));
            this.pending = Buffer.from(data.subarray(pos));
            return input.length;
          }
          if (end + 4 - pos > this.limits.maxHeaderBytes) fail(431, 'the trailer section is too large');
          const trailers: string[] = [];
          this.parseFields(data, pos, end + 2, trailers);
          pos = end + 4;
          this.complete(trailers);
          break;
        }
        case State.DEAD:
          fail(400, 'the parser already failed');
      }
    }
    // Bytes used of `input`: what was consumed minus what came from the pending prefix.
    return this.stopped ? Math.max(0, pos - prefix) : input.length;
  }

  private checkPartialHead(data: Buffer, pos: number, from: number): void {
    if (data.length - pos > this.limits.maxHeaderBytes) fail(431, 'the header section is too large');
    // Refuse early what can never become valid: a bare LF (or CR) would otherwise wait for a CRLFCRLF forever.
    for (let i = from; i < data.length; i++) {
      const c = data[i] as number;
      if (c === LF && (i === pos || data[i - 1] !== CR)) fail(400, 'bare LF in the header section');
      if (c === CR && i + 1 < data.length && data[i + 1] !== LF) fail(400, 'bare CR in the header section');
      if (c === 0) fail(400, 'NUL in the header section');
    }
  }

  private startChunk(): void {
    this.state = State.CHUNK_SIZE;
    this.remaining = 0;
    this.chunkDigits = 0;
    this.sawChunkSize = false;
  }

  private countBody(n: number): void {
    this.bodyBytes += n;
    if (this.bodyBytes > this.limits.maxBodyBytes) fail(413, 'the body is larger than allowed');
  }

  private complete(trailers: string[] | undefined): void {
    this.state = State.HEAD;
    this.handler.onComplete(trailers);
  }

  /** Parse the head in `data[start, end)`, where `end` is just past the CRLF of the last header line. */
  private parseHead(data: Buffer, start: number, end: number): void {
    const head: MessageHead = {
      method: '',
      target: '',
      status: 0,
      reason: '',
      versionMinor: 1,
      headers: [],
      contentLength: -1,
      chunked: false,
      keepAlive: true,
      expectContinue: false,
      upgrade: false,
    };
    let lineEnd = start;
    while (lineEnd < end && data[lineEnd] !== CR) lineEnd++;
    if (lineEnd >= end || data[lineEnd + 1] !== LF) fail(400, 'malformed start line');
    if (this.isRequest) this.parseRequestLine(data, start, lineEnd, head);
    else this.parseStatusLine(data, start, lineEnd, head);
    this.parseFields(data, lineEnd + 2, end, head.headers);
    this.interpret(head);
  }

  private parseRequestLine(data: Buffer, start: number, end: number, head: MessageHead): void {
    let i = start;
    while (i < end && TOKEN[data[i] as number] === 1) i++;
    if (i === start || data[i] !== SP) fail(400, 'malformed request line (method)');
    head.method = interned(METHOD_TABLE, data, start, i, false) ?? latin1(data, start, i);
    const t = ++i;
    while (i < end && TARGET[data[i] as number] === 1) i++;
    if (i === t || data[i] !== SP) fail(400, 'malformed request line (target)');
    head.target = latin1(data, t, i);
    i += 1;
    head.versionMinor = this.parseVersion(data, i, end);
    if (i + 8 !== end) fail(400, 'malformed request line (version)');
  }

  private parseStatusLine(data: Buffer, start: number, end: number, head: MessageHead): void {
    head.versionMinor = this.parseVersion(data, start, end);
    let i = start + 8;
    if (data[i] !== SP) fail(400, 'malformed status line');
    i += 1;
    let status = 0;
    for (let k = 0; k < 3; k++, i++) {
      const c = (data[i] as number) - 48;
      if (!(c >= 0 && c <= 9)) fail(400, 'malformed status code');
      status = status * 10 + c;
    }
    if (status < 100) fail(400, 'malformed status code');
    head.status = status;
    if (i < end) {
      if (data[i] !== SP) fail(400, 'malformed status line');
      for (let k = i + 1; k < end; k++) if (FIELD[data[k] as number] !== 1) fail(400, 'invalid byte in the reason phrase');
      head.reason = latin1(data, i + 1, end);
    }
  }

  /** `HTTP/1.0` or `HTTP/1.1` at `i` → the minor version; other versions → 505, garbage → 400. */
  private parseVersion(data: Buffer, i: number, end: number): number {
    if (
      end - i < 8 ||
      data[i] !== 0x48 ||
      data[i + 1] !== 0x54 ||
      data[i + 2] !== 0x54 ||
      data[i + 3] !== 0x50 ||
      data[i + 4] !== 0x2f ||
      data[i + 6] !== 0x2e
    ) {
      fail(400, 'malformed HTTP version');
    }
    const major = (data[i + 5] as number) - 48;
    const minor = (data[i + 7] as number) - 48;
    if (!(major >= 0 && major <= 9 && minor >= 0 && minor <= 9)) fail(400, 'malformed HTTP version');
    if (major !== 1 || minor > 1) fail(505, `HTTP/${major}.${minor} is not supported`);
    return minor;
  }

  /** Header (or trailer) lines in `data[start, end)`, each ending in CRLF, into the flat `out` list. */
  private parseFields(data: Buffer, start: number, end: number, out: string[]): void {
    let i = start;
    let count = 0;
    while (i < end) {
      const c0 = data[i] as number;
      if (c0 === SP || c0 === HTAB) fail(400, 'obsolete line folding is not accepted');
      const nameStart = i;
      while (TOKEN[data[i] as number] === 1) i++;
      if (i === nameStart) fail(400, 'invalid header field name');
      if (data[i] !== 0x3a) fail(400, data[i] === SP || data[i] === HTAB ? 'whitespace before the colon of a header field' : 'invalid header field name');
      const nameEnd = i;
      i += 1;
      while (data[i] === SP || data[i] === HTAB) i++;
      const valueStart = i;
      let valueEnd = i;
      for (;;) {
        const c = data[i] as number;
        if (c === CR) break;
        if (FIELD[c] !== 1) fail(400, c === LF ? 'bare LF in a header field' : 'invalid byte in a header field value');
        i++;
        if (c !== SP && c !== HTAB) valueEnd = i;
      }
      if (data[i + 1] !== LF) fail(400, 'bare CR in a header field');
      i += 2;
      if (++count > this.limits.maxHeaderCount) fail(431, 'too many header fields');
      out.push(interned(NAME_TABLE, data, nameStart, nameEnd, true) ?? latin1(data, nameStart, nameEnd).toLowerCase(), latin1(data, valueStart, valueEnd));
    }
  }

  /** Framing and connection semantics of a parsed head (RFC 9112 §6 and §9). */
  private interpret(head: MessageHead): void {
    const h = head.headers;
    let te: string | undefined;
    let hosts = 0;
    let connection = '';
    let upgrade = false;
    for (let k = 0; k < h.length; k += 2) {
      const name = h[k] as string;
      const value = h[k + 1] as string;
      switch (name) {
        case 'content-length': {
          if (head.contentLength !== -1) fail(400, 'duplicate Content-Length');
          if (value.length === 0 || value.length > 15) fail(400, 'invalid Content-Length');
          let n = 0;
          for (let j = 0; j < value.length; j++) {
            const d = value.charCodeAt(j) - 48;
            if (!(d >= 0 && d <= 9)) fail(400, 'invalid Content-Length');
            n = n * 10 + d;
          }
          head.contentLength = n;
          break;
        }
        case 'transfer-encoding':
          te = te === undefined ? value : `${te}, ${value}`;
          break;
        case 'host':
          hosts += 1;
          for (let j = 0; j < value.length; j++) if (HOST[value.charCodeAt(j)] !== 1) fail(400, 'invalid Host');
          break;
        case 'connection':
          connection = connection === '' ? value.toLowerCase() : `${connection},${value.toLowerCase()}`;
          break;
        case 'expect':
          if (this.isRequest) {
            if (value.toLowerCase() === '100-continue') head.expectContinue = true;
            else fail(417, `unsupported expectation: ${value}`);
          }
          break;
        case 'upgrade':
          upgrade = true;
          break;
      }
    }
    if (this.isRequest && head.versionMinor === 1 && hosts !== 1) fail(400, hosts === 0 ? 'missing Host' : 'duplicate Host');
    if (this.isRequest && hosts > 1) fail(400, 'duplicate Host');
    if (te !== undefined) {
      if (head.contentLength !== -1) fail(400, 'both Content-Length and Transfer-Encoding');
      if (head.versionMinor === 0) fail(400, 'Transfer-Encoding in an HTTP/1.0 message');
      const codings = te.split(',').map((s) => s.trim().toLowerCase());
      const last = codings[codings.length - 1];
      const chunkedCount = codings.filter((c) => c === 'chunked').length;
      if (codings.some((c) => c === '')) fail(400, 'empty transfer coding');
      if (last === 'chunked' && chunkedCount === 1) {
        if (codings.length > 1) fail(501, `unsupported transfer coding: ${te}`);
        head.chunked = true;
      } else if (this.isRequest) {
        fail(chunkedCount === 0 && codings.every((c) => TOKEN_RE.test(c)) ? 501 : 400, `unsupported Transfer-Encoding: ${te}`);
      } else if (chunkedCount > 0) {
        fail(400, `invalid Transfer-Encoding: ${te}`);
      }
    }
    let close = false;
    let keepAlive = false;
    if (connection !== '') {
      for (const token of connection.split(',')) {
        const t = token.trim();
        if (t === 'close') close = true;
        else if (t === 'keep-alive') keepAlive = true;
        else if (t === 'upgrade') head.upgrade = upgrade;
      }
    }
    head.keepAlive = !close && (head.versionMinor === 1 || keepAlive);
    if (head.contentLength > this.limits.maxBodyBytes) fail(413, 'the body is larger than allowed');

    const noBody = this.handler.onHead(head) === true;
    if (!this.isRequest) {
      const s = head.status;
      if (s < 200) {
        // 1xx: informational, another head follows. 101 switches protocols: the owner stops the parser.
        this.state = State.HEAD;
        return;
      }
      if (noBody || s === 204 || s === 304) {
        this.complete(undefined);
        return;
      }
      if (head.chunked) this.startChunked();
      else if (head.contentLength >= 0) this.startLength(head.contentLength);
      else {
        head.keepAlive = false;
        this.bodyBytes = 0;
        this.state = State.BODY_EOF;
      }
      return;
    }
    if (head.chunked) this.startChunked();
    else this.startLength(head.contentLength > 0 ? head.contentLength : 0);
  }

  private startChunked(): void {
    this.bodyBytes = 0;
    this.startChunk();
  }

  private startLength(length: number): void {
    this.bodyBytes = length;
    if (length === 0) {
      this.complete(undefined);
      return;
    }
    this.remaining = length;
    this.state = State.BODY_LENGTH;
  }
}

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Look a header up in a flat list (names are lower case); the first value, or `undefined`. */
export function findHeader(headers: readonly string[], name: string): string | undefined {
  for (let k = 0; k < headers.length; k += 2) if (headers[k] === name) return headers[k + 1];
  return undefined;
}

/** A flat header list as an object; repeated fields are joined with `', '` (`set-cookie` becomes an array). */
export function headersObject(headers: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (let k = 0; k < headers.length; k += 2) {
    const name = headers[k] as string;
    const value = headers[k + 1] as string;
    const prev = out[name];
    if (prev === undefined) out[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = `${prev}, ${value}`;
  }
  return out;
}
