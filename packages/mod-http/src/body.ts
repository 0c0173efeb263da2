/**
 * {@link Body}: an incoming message body (request body on the server, response body on the client), read as a
 * stream of chunks with backpressure, or whole as text, JSON or bytes.
 *
 * @module
 */

import { HttpParseError, SocketClosedError } from '@fdloop/core';

/** The flow-control hooks of a {@link Body}: its owner pauses and resumes the socket. @internal */
export interface BodySource {
  /** The consumer wants data (first pull: sends `100 Continue` where one is due). */
  demand(): void;
  /** Too much is buffered: stop reading the socket. */
  pause(): void;
  /** Room again: resume reading. */
  resume(): void;
}

/** Buffered bytes above which the socket is paused until the consumer pulls. */
const HIGH_WATER_MARK = 256 * 1024;

/**
 * A message body arriving from the network. Read it once: as an async iterable of `Buffer` chunks (streaming,
 * with backpressure: the connection stops reading while chunks pile up), or whole with {@link Body.text},
 * {@link Body.json} or {@link Body.bytes}.
 *
 * @example
 * ```ts
 * for await (const chunk of req.body) hash.update(chunk);
 * const data = await req.body.json();
 * ```
 */
export class Body implements AsyncIterable<Buffer> {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  private failure: Error | undefined;
  private waiter: { resolve: (b: Buffer | null) => void; reject: (e: Error) => void } | undefined;
  private used = false;
  private discarding = false;
  private paused = false;
  private readonly source: BodySource | undefined;
  private readonly limit: number;
  private received = 0;
  /** Trailer fields of a chunked body (flat list: lower-case name, value…), once the body has ended. */
  trailers: string[] | undefined;

  /** @internal */
  constructor(source: BodySource | undefined, limit: number, empty: boolean) {
    this.source = source;
    this.limit = limit;
    this.done = empty;
  }

  /** Whether the whole body has arrived. */
  get complete(): boolean {
    return this.done;
  }

  /** @internal A chunk arrived (a view of a reused buffer: copied here unless discarding). */
  push(chunk: Buffer): void {
    if (this.discarding || this.done) return;
    this.received += chunk.length;
    const copy = Buffer.from(chunk);
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w.resolve(copy);
      return;
    }
    this.chunks.push(copy);
    this.buffered += copy.length;
    if (this.buffered >= HIGH_WATER_MARK && !this.paused && this.source !== undefined) {
      this.paused = true;
      this.source.pause();
    }
  }

  /** @internal The body ended. */
  end(trailers: string[] | undefined): void {
    if (this.done) return;
    this.done = true;
    this.trailers = trailers;
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w.resolve(null);
    }
  }

  /** @internal The body can never complete (connection closed, parse error, abort). */
  fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w.reject(error);
    }
  }

  /** @internal Nobody will read: drop what is buffered and what still arrives. */
  discard(): void {
    this.discarding = true;
    this.chunks = [];
    this.buffered = 0;
    if (this.paused) {
      this.paused = false;
      this.source?.resume();
    }
  }

  /** Whether the body was read, or is being read. */
  get bodyUsed(): boolean {
    return this.used;
  }

  /**
   * The next chunk, or `null` at the end.
   * @throws the connection's error if it broke before the body ended.
   */
  read(): Promise<Buffer | null> {
    this.used = true;
    const chunk = this.chunks.shift();
    if (chunk !== undefined) {
      this.buffered -= chunk.length;
      if (this.paused && this.buffered < HIGH_WATER_MARK / 2) {
        this.paused = false;
        this.source?.resume();
      }
      return Promise.resolve(chunk);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.done) return Promise.resolve(null);
    if (this.waiter !== undefined) return Promise.reject(new SocketClosedError('another read of this body is pending'));
    this.source?.demand();
    if (this.paused) {
      this.paused = false;
      this.source?.resume();
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Iterate over the chunks. */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /**
   * The whole body as one Buffer.
   * @param maxBytes refuse (with an `HttpParseError`, status 413) a body longer than this. Defaults to the
   *   server's or client's `maxBodyBytes`.
   */
  async bytes(maxBytes = this.limit): Promise<Buffer> {
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) break;
      total += chunk.length;
      if (total > maxBytes) {
        this.discard();
        throw new HttpParseError(413, `the body is larger than ${maxBytes} bytes`);
      }
      parts.push(chunk);
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
  }

  /** The whole body decoded as UTF-8. */
  async text(maxBytes?: number): Promise<string> {
    return (await this.bytes(maxBytes)).toString('utf8');
  }

  /** The whole body parsed as JSON. @throws SyntaxError for invalid JSON. */
  async json<T = unknown>(maxBytes?: number): Promise<T> {
    return JSON.parse(await this.text(maxBytes)) as T;
  }

  /** Bytes received so far. */
  get receivedBytes(): number {
    return this.received;
  }
}
