/**
 * Parsers that turn a byte stream into frames, each in two forms: a Transform stream (`port.pipe(new
 * DelimiterParser({ delimiter: '\n' }))`) and an async-iterator helper (`for await (const line of lines(port))`).
 * Both forms share one splitter per parser, so they behave identically however the bytes are split into chunks.
 *
 * | parser | Transform | async iterator |
 * | --- | --- | --- |
 * | delimiter | {@link DelimiterParser} | {@link delimited} |
 * | lines (text) | {@link ReadlineParser} | {@link lines} |
 * | fixed length | {@link ByteLengthParser} | {@link fixedLength} |
 * | inter-byte timeout | {@link InterByteTimeoutParser} | {@link interByteTimeout} |
 * | SLIP (RFC 1055) | {@link SlipDecoder} / {@link SlipEncoder} | {@link slipFrames} / {@link slipEncode} |
 * | regex | {@link RegexParser} | {@link regexSplit} |
 * | start/end markers | {@link StartEndParser} | {@link betweenMarkers} |
 *
 * @module
 */

import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback, type TransformOptions } from 'node:stream';
import { InvalidArgumentError, describeReceived } from '@fdloop/core';

/** Bytes given as a string (UTF-8), a Buffer/Uint8Array, or an array of byte values. */
export type BytesLike = string | Uint8Array | readonly number[];

/**
 * The shared core of every parser: bytes in, complete frames out. `T` is `Buffer` for binary parsers and
 * `string` for text ones.
 */
export interface Splitter<T> {
  /** Take a chunk; return the frames it completed (often none). */
  push(chunk: Uint8Array): T[];
  /** The input ended: return what is left as final frames (possibly none). */
  end(): T[];
}

function toBytes(name: string, value: unknown): Buffer {
  let b: Buffer;
  if (typeof value === 'string') b = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) b = Buffer.from(value);
  else if (Array.isArray(value) && value.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) b = Buffer.from(value);
  else throw new InvalidArgumentError(name, 'must be a string, a Uint8Array or an array of byte values');
  if (b.byteLength === 0) throw new InvalidArgumentError(name, 'must not be empty');
  return b;
}

function positiveInt(name: string, value: unknown, dflt?: number): number {
  if (value === undefined && dflt !== undefined) return dflt;
  if (typeof value !== 'number' || !(Number.isInteger(value) || value === Infinity) || value < 1) {
    throw new InvalidArgumentError(name, `must be a positive integer, got ${describeReceived(value)}`);
  }
  return value;
}

function checkOptions(options: unknown): Record<string, unknown> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'must be an object');
  return options as Record<string, unknown>;
}

// ------------------------------------------------------------------------------------------------ splitters

/** Options of the delimiter parser. */
export interface DelimiterOptions {
  /** What separates frames. */
  readonly delimiter: BytesLike;
  /** Keep the delimiter at the end of each frame. Defaults to `false`. */
  readonly includeDelimiter?: boolean;
  /**
   * The longest frame, in bytes. Longer frames are cut into pieces of this size (nothing is dropped, memory
   * stays bounded), at the same places however the input was chunked. Defaults to `Infinity`.
   */
  readonly maxLength?: number;
}

/** The splitter of {@link DelimiterParser} and {@link delimited}. */
export function delimiterSplitter(options: DelimiterOptions): Splitter<Buffer> {
  const o = checkOptions(options);
  const delimiter = toBytes('options.delimiter', o.delimiter);
  const include = o.includeDelimiter ?? false;
  if (typeof include !== 'boolean') throw new InvalidArgumentError('options.includeDelimiter', 'must be a boolean');
  const maxLength = positiveInt('options.maxLength', o.maxLength, Infinity);
  let pending = Buffer.alloc(0);
  return {
    push(chunk) {
      // Search only where a delimiter can newly start: the tail of the old data plus the new chunk.
      let from = Math.max(0, pending.byteLength - delimiter.byteLength + 1);
      pending = pending.byteLength === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
      const frames: Buffer[] = [];
      let start = 0;
      const emit = (frame: Buffer): void => {
        // Frames longer than maxLength are cut into maxLength pieces, wherever the chunk boundaries fell.
        while (frame.byteLength > maxLength) {
          frames.push(frame.subarray(0, maxLength));
          frame = frame.subarray(maxLength);
        }
        frames.push(frame);
      };
      for (;;) {
        const at = pending.indexOf(delimiter, Math.max(from, start));
        if (at < 0) break;
        emit(pending.subarray(start, include ? at + delimiter.byteLength : at));
        start = at + delimiter.byteLength;
        from = start;
      }
      pending = pending.subarray(start);
      // Without a delimiter in sight, the first maxLength bytes form a frame once a delimiter starting inside
      // them would already be visible: the same cut as if the bytes had arrived in one chunk.
      while (pending.byteLength >= maxLength + delimiter.byteLength) {
        frames.push(pending.subarray(0, maxLength));
        pending = pending.subarray(maxLength);
      }
      return frames;
    },
    end() {
      const rest = pending;
      pending = Buffer.alloc(0);
      return rest.byteLength > 0 ? [rest] : [];
    },
  };
}

/** Options of the line parser. */
export interface LinesOptions {
  /** The line ending. Defaults to `'\n'`; a `'\r'` before it is kept unless the delimiter is `'\r\n'`. */
  readonly delimiter?: BytesLike;
  /** Text encoding of the lines. Defaults to `'utf8'`. */
  readonly encoding?: BufferEncoding;
  /** Keep the delimiter. Defaults to `false`. */
  readonly includeDelimiter?: boolean;
  /** Longest line in bytes, as in {@link DelimiterOptions.maxLength}. Defaults to `Infinity`. */
  readonly maxLength?: number;
}

/** The splitter of {@link ReadlineParser} and {@link lines}. */
export function linesSplitter(options: LinesOptions = {}): Splitter<string> {
  const o = checkOptions(options);
  const encoding = (o.encoding ?? 'utf8') as BufferEncoding;
  if (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)) throw new InvalidArgumentError('options.encoding', `unknown encoding ${String(encoding)}`);
  const inner = delimiterSplitter({
    delimiter: (o.delimiter as BytesLike | undefined) ?? '\n',
    includeDelimiter: (o.includeDelimiter as boolean | undefined) ?? false,
    maxLength: (o.maxLength as number | undefined) ?? Infinity,
  });
  return {
    push: (chunk) => inner.push(chunk).map((b) => b.toString(encoding)),
    end: () => inner.end().map((b) => b.toString(encoding)),
  };
}

/** Options of the fixed-length parser. */
export interface FixedLengthOptions {
  /** Bytes per frame. */
  readonly length: number;
}

/** The splitter of {@link ByteLengthParser} and {@link fixedLength}. A short final frame is emitted at the end. */
export function fixedLengthSplitter(options: FixedLengthOptions): Splitter<Buffer> {
  const length = positiveInt('options.length', checkOptions(options).length);
  if (length === Infinity) throw new InvalidArgumentError('options.length', 'must be finite');
  let pending = Buffer.alloc(0);
  return {
    push(chunk) {
      pending = pending.byteLength === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
      const frames: Buffer[] = [];
      let start = 0;
      while (pending.byteLength - start >= length) {
        frames.push(pending.subarray(start, start + length));
        start += length;
      }
      pending = pending.subarray(start);
      return frames;
    },
    end() {
      const rest = pending;
      pending = Buffer.alloc(0);
      return rest.byteLength > 0 ? [rest] : [];
    },
  };
}

/** SLIP special bytes (RFC 1055). */
export const SLIP = Object.freeze({
  /** Frame end. */
  END: 0xc0,
  /** Escape. */
  ESC: 0xdb,
  /** Escaped END. */
  ESC_END: 0xdc,
  /** Escaped ESC. */
  ESC_ESC: 0xdd,
});

/** Options of the SLIP decoder. */
export interface SlipDecoderOptions {
  /** The longest decoded frame; longer ones are emitted in pieces of this size. Defaults to `Infinity`. */
  readonly maxLength?: number;
}

/**
 * The splitter of {@link SlipDecoder} and {@link slipFrames}: decodes RFC 1055 SLIP. Empty frames (back-to-back
 * END bytes, which senders use to flush line noise) are skipped; an unknown escape keeps the byte as is (as
 * RFC 1055's reference code does).
 */
export function slipSplitter(options: SlipDecoderOptions = {}): Splitter<Buffer> {
  const maxLength = positiveInt('options.maxLength', checkOptions(options).maxLength, Infinity);
  let out: number[] = [];
  let escaped = false;
  return {
    push(chunk) {
      const frames: Buffer[] = [];
      for (const byte of chunk) {
        if (escaped) {
          escaped = false;
          out.push(byte === SLIP.ESC_END ? SLIP.END : byte === SLIP.ESC_ESC ? SLIP.ESC : byte);
        } else if (byte === SLIP.END) {
          if (out.length > 0) frames.push(Buffer.from(out));
          out = [];
          continue;
        } else if (byte === SLIP.ESC) {
          escaped = true;
          continue;
        } else {
          out.push(byte);
        }
        if (out.length >= maxLength) {
          frames.push(Buffer.from(out));
          out = [];
        }
      }
      return frames;
    },
    end() {
      const rest = out;
      out = [];
      escaped = false;
      return rest.length > 0 ? [Buffer.from(rest)] : [];
    },
  };
}

/**
 * Encode one packet as a SLIP frame: END, the packet with END and ESC escaped, END.
 * @example
 * ```ts
 * port.write(slipEncode(Buffer.from([1, 0xc0, 2]))); // c0 01 db dc 02 c0
 * ```
 */
export function slipEncode(packet: Uint8Array): Buffer {
  if (!(packet instanceof Uint8Array)) throw new InvalidArgumentError('packet', 'must be a Uint8Array');
  const out: number[] = [SLIP.END];
  for (const byte of packet) {
    if (byte === SLIP.END) out.push(SLIP.ESC, SLIP.ESC_END);
    else if (byte === SLIP.ESC) out.push(SLIP.ESC, SLIP.ESC_ESC);
    else out.push(byte);
  }
  out.push(SLIP.END);
  return Buffer.from(out);
}

/** Options of the regex parser. */
export interface RegexOptions {
  /** What separates frames (as in `String.prototype.split`). The `g` and `y` flags are ignored. */
  readonly regex: RegExp | string;
  /** Text encoding. Defaults to `'utf8'`. */
  readonly encoding?: BufferEncoding;
}

/**
 * The splitter of {@link RegexParser} and {@link regexSplit}: decodes text (multi-byte characters split across
 * chunks are kept whole) and splits it wherever `regex` matches; the text after the last match waits for more.
 * Empty frames are skipped.
 */
export function regexSplitter(options: RegexOptions): Splitter<string> {
  const o = checkOptions(options);
  const source = o.regex;
  if (!(source instanceof RegExp) && (typeof source !== 'string' || source === '')) {
    throw new InvalidArgumentError('options.regex', 'must be a RegExp or a non-empty string');
  }
  const regex = source instanceof RegExp ? new RegExp(source.source, source.flags.replace(/[gy]/g, '')) : new RegExp(source);
  if (regex.test('')) throw new InvalidArgumentError('options.regex', 'must not match the empty string');
  const encoding = (o.encoding ?? 'utf8') as BufferEncoding;
  if (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)) throw new InvalidArgumentError('options.encoding', `unknown encoding ${String(encoding)}`);
  const decoder = new StringDecoder(encoding);
  let pending = '';
  return {
    push(chunk) {
      pending += decoder.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      const parts = pending.split(regex);
      pending = parts.pop() ?? '';
      return parts.filter((p) => p !== '');
    },
    end() {
      const rest = pending + decoder.end();
      pending = '';
      return rest !== '' ? [rest] : [];
    },
  };
}

/** Options of the start/end marker parser. */
export interface StartEndOptions {
  /** The bytes that open a frame. */
  readonly start: BytesLike;
  /** The bytes that close a frame. */
  readonly end: BytesLike;
  /** Keep the markers in the frames. Defaults to `false`. */
  readonly includeMarkers?: boolean;
  /** The longest frame body; a longer one is dropped and the search restarts. Defaults to `Infinity`. */
  readonly maxLength?: number;
}

/**
 * The splitter of {@link StartEndParser} and {@link betweenMarkers}: bytes before a start marker are discarded
 * (line noise, a partial frame from before we started listening); a frame runs from the start marker to the
 * next end marker. An unfinished frame at the end of input is discarded.
 */
export function startEndSplitter(options: StartEndOptions): Splitter<Buffer> {
  const o = checkOptions(options);
  const start = toBytes('options.start', o.start);
  const end = toBytes('options.end', o.end);
  const include = o.includeMarkers ?? false;
  if (typeof include !== 'boolean') throw new InvalidArgumentError('options.includeMarkers', 'must be a boolean');
  const maxLength = positiveInt('options.maxLength', o.maxLength, Infinity);
  let pending = Buffer.alloc(0);
  return {
    push(chunk) {
      pending = pending.byteLength === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
      const frames: Buffer[] = [];
      for (;;) {
        const s = pending.indexOf(start);
        if (s < 0) {
          // Keep only a tail that could be the beginning of a start marker.
          pending = pending.subarray(Math.max(0, pending.byteLength - start.byteLength + 1));
          break;
        }
        const bodyStart = s + start.byteLength;
        const e = pending.indexOf(end, bodyStart);
        if (e < 0) {
          pending = pending.subarray(s);
          if (pending.byteLength - start.byteLength > maxLength + end.byteLength) pending = pending.subarray(start.byteLength);
          break;
        }
        if (e - bodyStart <= maxLength) {
          frames.push(include ? pending.subarray(s, e + end.byteLength) : pending.subarray(bodyStart, e));
        }
        pending = pending.subarray(e + end.byteLength);
      }
      return frames;
    },
    end() {
      pending = Buffer.alloc(0);
      return [];
    },
  };
}

// ------------------------------------------------------------------------------------------------ transforms

/**
 * A Transform stream around a {@link Splitter}: bytes in, one object (Buffer or string) per frame out, so frames
 * stay separate downstream. The base of every parser class here; usable with your own splitter.
 */
export class SplitterTransform<T extends Buffer | string> extends Transform {
  private readonly splitter: Splitter<T>;

  /** Wrap `splitter`; `options` are passed to Transform (object mode on the readable side is always on). */
  constructor(splitter: Splitter<T>, options: TransformOptions = {}) {
    super({ ...options, readableObjectMode: true });
    this.splitter = splitter;
  }

  /** @internal Node stream machinery. */
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    for (const frame of this.splitter.push(chunk)) this.push(frame);
    callback();
  }

  /** @internal Node stream machinery. */
  override _flush(callback: TransformCallback): void {
    for (const frame of this.splitter.end()) this.push(frame);
    callback();
  }
}

/**
 * Transform: split at a delimiter.
 * @example
 * ```ts
 * port.pipe(new DelimiterParser({ delimiter: [0x0d, 0x0a] })).on('data', (frame: Buffer) => …);
 * ```
 */
export class DelimiterParser extends SplitterTransform<Buffer> {
  constructor(options: DelimiterOptions) {
    super(delimiterSplitter(options));
  }
}

/**
 * Transform: text lines (strings).
 * @example
 * ```ts
 * port.pipe(new ReadlineParser({ delimiter: '\r\n' })).on('data', (line: string) => console.log(line));
 * ```
 */
export class ReadlineParser extends SplitterTransform<string> {
  constructor(options: LinesOptions = {}) {
    super(linesSplitter(options));
  }
}

/** Transform: frames of a fixed number of bytes. */
export class ByteLengthParser extends SplitterTransform<Buffer> {
  constructor(options: FixedLengthOptions) {
    super(fixedLengthSplitter(options));
  }
}

/** Transform: SLIP (RFC 1055) frames. */
export class SlipDecoder extends SplitterTransform<Buffer> {
  constructor(options: SlipDecoderOptions = {}) {
    super(slipSplitter(options));
  }
}

/** Transform: text split by a regular expression. */
export class RegexParser extends SplitterTransform<string> {
  constructor(options: RegexOptions) {
    super(regexSplitter(options));
  }
}

/** Transform: frames between a start and an end marker. */
export class StartEndParser extends SplitterTransform<Buffer> {
  constructor(options: StartEndOptions) {
    super(startEndSplitter(options));
  }
}

/** Transform: each written chunk (one packet) becomes one SLIP frame ({@link slipEncode}). */
export class SlipEncoder extends Transform {
  constructor() {
    super({ writableObjectMode: true });
  }

  /** @internal Node stream machinery. */
  override _transform(chunk: Uint8Array, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      callback(null, slipEncode(chunk));
    } catch (error) {
      callback(error as Error);
    }
  }
}

/** Options of the inter-byte timeout parser. */
export interface InterByteTimeoutOptions {
  /** Milliseconds of silence that end a frame. */
  readonly interval: number;
  /** The longest frame; reaching it ends the frame at once. Defaults to `65536`. */
  readonly maxBufferSize?: number;
}

function checkInterByte(options: InterByteTimeoutOptions): { interval: number; max: number } {
  const o = checkOptions(options);
  const interval = positiveInt('options.interval', o.interval);
  if (interval === Infinity) throw new InvalidArgumentError('options.interval', 'must be finite');
  return { interval, max: positiveInt('options.maxBufferSize', o.maxBufferSize, 65536) };
}

/**
 * Transform: a frame ends when no byte arrived for `interval` milliseconds (Modbus RTU-style framing), or when
 * `maxBufferSize` bytes are collected. The timer is a Node timer; the stream keeps no handle alive once ended.
 */
export class InterByteTimeoutParser extends Transform {
  private readonly interval: number;
  private readonly max: number;
  private parts: Buffer[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: InterByteTimeoutOptions) {
    const { interval, max } = checkInterByte(options);
    super({ readableObjectMode: true });
    this.interval = interval;
    this.max = max;
  }

  private emitFrame(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.size === 0) return;
    const frame = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.push(frame);
  }

  /** @internal Node stream machinery. */
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let data = chunk;
    while (data.byteLength > 0) {
      const take = Math.min(data.byteLength, this.max - this.size);
      this.parts.push(data.subarray(0, take));
      this.size += take;
      data = data.subarray(take);
      if (this.size >= this.max) this.emitFrame();
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = this.size > 0 ? setTimeout(() => this.emitFrame(), this.interval) : undefined;
    callback();
  }

  /** @internal Node stream machinery. */
  override _flush(callback: TransformCallback): void {
    this.emitFrame();
    callback();
  }

  /** @internal Node stream machinery. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    callback(error);
  }
}

// ------------------------------------------------------------------------------------------------ async iterators

/**
 * Run any {@link Splitter} over an async iterable of chunks (a {@link SerialPort}, `port.chunks()`, any Readable).
 * Leaving the loop early returns the source iterator (for `port.chunks()` that keeps the port open).
 */
export async function* split<T>(source: AsyncIterable<Uint8Array>, splitter: Splitter<T>): AsyncGenerator<T, void, undefined> {
  for await (const chunk of source) yield* splitter.push(chunk);
  yield* splitter.end();
}

/**
 * Frames separated by a delimiter.
 * @example
 * ```ts
 * for await (const frame of delimited(port.chunks(), { delimiter: '\0' })) handle(frame);
 * ```
 */
export function delimited(source: AsyncIterable<Uint8Array>, options: DelimiterOptions): AsyncGenerator<Buffer, void, undefined> {
  return split(source, delimiterSplitter(options));
}

/**
 * Text lines.
 * @example
 * ```ts
 * for await (const line of lines(port.chunks())) console.log(line);
 * ```
 */
export function lines(source: AsyncIterable<Uint8Array>, options: LinesOptions = {}): AsyncGenerator<string, void, undefined> {
  return split(source, linesSplitter(options));
}

/** Frames of a fixed length. */
export function fixedLength(source: AsyncIterable<Uint8Array>, options: FixedLengthOptions): AsyncGenerator<Buffer, void, undefined> {
  return split(source, fixedLengthSplitter(options));
}

/** Decoded SLIP frames. */
export function slipFrames(source: AsyncIterable<Uint8Array>, options: SlipDecoderOptions = {}): AsyncGenerator<Buffer, void, undefined> {
  return split(source, slipSplitter(options));
}

/** Text split by a regular expression. */
export function regexSplit(source: AsyncIterable<Uint8Array>, options: RegexOptions): AsyncGenerator<string, void, undefined> {
  return split(source, regexSplitter(options));
}

/** Frames between start and end markers. */
export function betweenMarkers(source: AsyncIterable<Uint8Array>, options: StartEndOptions): AsyncGenerator<Buffer, void, undefined> {
  return split(source, startEndSplitter(options));
}

/**
 * Frames ended by `interval` milliseconds of silence (or `maxBufferSize` bytes). The pending `next()` of the
 * source is kept across timeouts, so no chunk is lost when a frame ends.
 * @example
 * ```ts
 * for await (const frame of interByteTimeout(port.chunks(), { interval: 5 })) handleModbusRtu(frame);
 * ```
 */
export async function* interByteTimeout(source: AsyncIterable<Uint8Array>, options: InterByteTimeoutOptions): AsyncGenerator<Buffer, void, undefined> {
  const { interval, max } = checkInterByte(options);
  const it = source[Symbol.asyncIterator]();
  let parts: Buffer[] = [];
  let size = 0;
  let pending: Promise<IteratorResult<Uint8Array>> | undefined;
  const take = (): Buffer => {
    const frame = Buffer.concat(parts, size);
    parts = [];
    size = 0;
    return frame;
  };
  let finished = false;
  try {
    for (;;) {
      pending ??= it.next();
      let result: IteratorResult<Uint8Array> | 'timeout';
      if (size === 0) {
        result = await pending;
      } else {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), interval);
        });
        result = await Promise.race([pending, timeout]);
        clearTimeout(timer);
      }
      if (result === 'timeout') {
        yield take();
        continue;
      }
      pending = undefined;
      if (result.done) {
        finished = true;
        if (size > 0) yield take();
        return;
      }
      let data = Buffer.isBuffer(result.value) ? result.value : Buffer.from(result.value);
      while (data.byteLength > 0) {
        const n = Math.min(data.byteLength, max - size);
        parts.push(data.subarray(0, n));
        size += n;
        data = data.subarray(n);
        if (size >= max) yield take();
      }
    }
  } finally {
    if (!finished) await it.return?.();
  }
}
