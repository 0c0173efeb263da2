/**
 * The HTTP/1.1 server: {@link HttpServer}, {@link ServerRequest}, {@link ServerResponse}.
 *
 * @module
 */

import { HttpParseError, InvalidArgumentError, describeReceived, SocketClosedError, type Runtime, type SocketAddressInfo } from '@fdloop/core';
import { useNet, type ListenOptions, type Server, type Socket } from '@fdloop/mod-net';
import { Body, type BodySource } from './body.js';
import {
  STATUS_TEXT,
  bodyBytes,
  flattenHeaders,
  httpDate,
  statusHasNoBody,
  validateHeaderName,
  validateHeaderValue,
  type BodyInit,
  type HeadersInit,
} from './common.js';
import { HttpParser, findHeader, headersObject, type MessageHead, type ParserHandler } from './parser.js';

/** Options of {@link createServer}: where to listen, limits and timeouts. */
export interface ServerOptions {
  /** Address to listen on (IPv4/IPv6 literal). Defaults to `'127.0.0.1'`. */
  readonly host?: string;
  /** Port; `0` lets the kernel choose ({@link HttpServer.port}). Defaults to `0`. */
  readonly port?: number;
  /** A unix socket path instead of host and port. */
  readonly path?: string;
  /** `SO_REUSEPORT`, so several worker threads can serve one port (see the guide). Defaults to `false`. */
  readonly reusePort?: boolean;
  /** Listen backlog. Defaults to `511`. */
  readonly backlog?: number;
  /** Largest request head (request line and header lines). Larger → 431 and close. Defaults to `16384`. */
  readonly maxHeaderBytes?: number;
  /** Most header fields per request. More → 431 and close. Defaults to `100`. */
  readonly maxHeaderCount?: number;
  /**
   * Largest request body. A larger Content-Length, or a chunked body growing past it → 413 and close.
   * Defaults to `16 MiB`; `Infinity` for none.
   */
  readonly maxBodyBytes?: number;
  /** Time allowed for a request head to arrive completely (slowloris). Then 408 and close. Defaults to `60000` ms. */
  readonly headersTimeout?: number;
  /** Time allowed from the first byte of a request to the end of its response. Defaults to `300000` ms. */
  readonly requestTimeout?: number;
  /** How long an idle keep-alive connection is kept. Defaults to `5000` ms. */
  readonly keepAliveTimeout?: number;
  /** Most open connections; more are closed as soon as they are accepted. Defaults to `Infinity`. */
  readonly maxConnections?: number;
  /** Most requests of one connection in flight (pipelined) before reading pauses. Defaults to `16`. */
  readonly maxPipelined?: number;
  /** Most requests served per connection before it is closed (with `Connection: close`). Defaults to `Infinity`. */
  readonly maxRequestsPerConnection?: number;
  /**
   * Takes over connections that ask to switch protocols (`Connection: Upgrade` plus `Upgrade`, HTTP/1.1, no
   * body): see {@link UpgradeHandler}. Without it such requests go to the request handler like any other
   * (which may answer them normally, as RFC 9110 §7.8 allows). Can also be set later with
   * {@link HttpServer.onUpgrade}.
   */
  readonly upgrade?: UpgradeHandler;
  /**
   * Which upgrade requests go to `upgrade`; the others are served by the request handler. Defaults to all of them.
   *
   * @example
   * ```ts
   * shouldUpgrade: (req) => req.header('upgrade')?.toLowerCase() === 'websocket'
   * ```
   */
  readonly shouldUpgrade?: (req: ServerRequest) => boolean;
}

/**
 * Takes over a connection whose request asked to switch protocols (WebSocket, for example). It gets the request,
 * the raw socket and the bytes that arrived after the request head (`head`, often empty, owned by the handler).
 * From then on the socket belongs to the handler: the HTTP server neither reads nor writes it, does not time it
 * out and no longer counts it (`server.close()` does not wait for it); the handler writes the answer itself
 * (`101 Switching Protocols`, or a refusal) and sets its own callbacks with `socket.handle()` (bytes arriving
 * before that are buffered by the socket). Earlier pipelined requests of the connection are answered first.
 * A throw or rejection closes the socket and goes to the runtime's error handler, like a request handler's.
 */
export type UpgradeHandler = (req: ServerRequest, socket: Socket, head: Buffer) => void | Promise<void>;

/**
 * A request handler. Answer with `res.end(…)`, `res.send(…)` or `res.json(…)`, or stream with `res.write()`.
 * A thrown exception or rejected promise answers 500 (or closes the connection if the response had started)
 * and goes to the runtime's error handler.
 */
export type RequestHandler = (req: ServerRequest, res: ServerResponse) => void | Promise<void>;

const DEFAULTS = {
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxBodyBytes: 16 * 1024 * 1024,
  headersTimeout: 60_000,
  requestTimeout: 300_000,
  keepAliveTimeout: 5_000,
  maxConnections: Infinity,
  maxPipelined: 16,
  maxRequestsPerConnection: Infinity,
};

/** Time an answered-and-refused connection waits for the peer's end of stream before it is closed anyway. */
const LINGER_MS = 2_000;

function limitOption(name: string, value: unknown, dflt: number, min: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (value !== Infinity && !Number.isInteger(value))) {
    throw new InvalidArgumentError(name, `must be an integer >= ${min} (or Infinity), got ${describeReceived(value)}`);
  }
  return value;
}

/**
 * An incoming request. The head is parsed; the body arrives as {@link ServerRequest.body}.
 */
export class ServerRequest {
  /** The method, as sent (`'GET'`). */
  readonly method: string;
  /** The request target as sent (`'/path?query'`). */
  readonly url: string;
  /** `'1.1'` or `'1.0'`. */
  readonly httpVersion: string;
  /** Header fields as a flat list: lower-case name, value, name, value… */
  readonly rawHeaders: readonly string[];
  private bodyValue: Body | undefined;
  private headerObject: Record<string, string | string[]> | undefined;
  private readonly conn: Connection;

  /** @internal */
  constructor(head: MessageHead, body: Body | undefined, conn: Connection) {
    this.method = head.method;
    this.url = head.target;
    this.httpVersion = head.versionMinor === 1 ? '1.1' : '1.0';
    this.rawHeaders = head.headers;
    this.bodyValue = body;
    this.conn = conn;
  }

  /** The body (empty for requests without one; created on first use for those). */
  get body(): Body {
    return (this.bodyValue ??= new Body(undefined, 0, true));
  }

  /** @internal Whether the body is still arriving. */
  get receivingBody(): boolean {
    return this.bodyValue !== undefined && !this.bodyValue.complete;
  }

  /** The path part of {@link ServerRequest.url} (before `?`). */
  get path(): string {
    const q = this.url.indexOf('?');
    return q < 0 ? this.url : this.url.slice(0, q);
  }

  /** The query string without `?` (`''` when none). */
  get query(): string {
    const q = this.url.indexOf('?');
    return q < 0 ? '' : this.url.slice(q + 1);
  }

  /** Header fields as an object with lower-case names (repeated fields joined by `', '`, `set-cookie` an array). */
  get headers(): Record<string, string | string[]> {
    return (this.headerObject ??= headersObject(this.rawHeaders));
  }

  /** The first value of header `name` (case-insensitive), or `undefined`. */
  header(name: string): string | undefined {
    return findHeader(this.rawHeaders, name.toLowerCase());
  }

  /** The trailer fields of a chunked body (flat list), once the body has been read to its end. */
  get trailers(): readonly string[] | undefined {
    return this.body.trailers;
  }

  /** The client's address. */
  remoteAddress(): SocketAddressInfo {
    return this.conn.socket.remoteAddress();
  }

  /** Shorthand for `req.body.text(maxBytes)`. */
  text(maxBytes?: number): Promise<string> {
    return this.body.text(maxBytes);
  }

  /** Shorthand for `req.body.json(maxBytes)`. */
  json<T = unknown>(maxBytes?: number): Promise<T> {
    return this.body.json<T>(maxBytes);
  }

  /** Shorthand for `req.body.bytes(maxBytes)`. */
  bytes(maxBytes?: number): Promise<Buffer> {
    return this.body.bytes(maxBytes);
  }
}

const enum Framing {
  NONE,
  LENGTH,
  CHUNKED,
  CLOSE,
}

/**
 * The response to one request. The simple case is one call (`res.end('hi')`, `res.json(value)`); for a large
 * body, `write()` chunks (sent chunked unless a Content-Length was set) and `await res.drained()` when `write`
 * returns `false`. Responses to pipelined requests go out in request order: a later response is buffered until
 * the earlier ones finish.
 *
 * @example
 * ```ts
 * res.status(201).header('content-type', 'text/plain').end('created');
 * ```
 */
export class ServerResponse {
  /** The status code to send. Defaults to `200`. */
  statusCode = 200;
  /** The reason phrase; defaults to the standard one for the code. */
  statusMessage: string | undefined;
  private headers: string[] = [];
  private trailerList: string[] | undefined;
  private sent = false;
  private done = false;
  private framing = Framing.NONE;
  private remainingLength = 0;
  private output: Uint8Array[] | undefined;
  private finishWaiters: (() => void)[] | undefined;
  /** @internal */
  readonly isHead: boolean;
  /** @internal */
  closeAfter: boolean;
  /** @internal */
  active = false;
  /** @internal */
  readonly request: ServerRequest;
  private readonly conn: Connection;
  private readonly versionMinor: number;

  /** @internal */
  constructor(conn: Connection, request: ServerRequest, head: MessageHead, closeAfter: boolean) {
    this.conn = conn;
    this.request = request;
    this.isHead = head.method === 'HEAD';
    this.versionMinor = head.versionMinor;
    this.closeAfter = closeAfter;
  }

  /** Whether the head has been sent (or queued). Headers cannot change afterwards. */
  get headersSent(): boolean {
    return this.sent;
  }

  /** Whether {@link ServerResponse.end} was called. */
  get finished(): boolean {
    return this.done;
  }

  /** Set the status code. Returns the response. */
  status(code: number): this {
    if (!Number.isInteger(code) || code < 100 || code > 999) throw new InvalidArgumentError('status', `must be an integer from 100 to 999, got ${describeReceived(code)}`);
    this.statusCode = code;
    return this;
  }

  /** Add a header field (repeatable: `set-cookie`). Returns the response. @throws InvalidArgumentError for a bad name or value. */
  header(name: string, value: string | number): this {
    this.assertHeadersOpen();
    const n = validateHeaderName(name);
    this.headers.push(n, validateHeaderValue(n, value));
    return this;
  }

  /** Set a header field, replacing earlier values of the same name. Returns the response. */
  setHeader(name: string, value: string | number | readonly string[]): this {
    this.removeHeader(name);
    if (Array.isArray(value)) for (const v of value as readonly string[]) this.header(name, v);
    else this.header(name, value as string | number);
    return this;
  }

  /** The first value set for header `name` (case-insensitive). */
  getHeader(name: string): string | undefined {
    const lower = name.toLowerCase();
    for (let k = 0; k < this.headers.length; k += 2) if ((this.headers[k] as string).toLowerCase() === lower) return this.headers[k + 1];
    return undefined;
  }

  /** Remove header `name` (case-insensitive). */
  removeHeader(name: string): this {
    this.assertHeadersOpen();
    const lower = name.toLowerCase();
    const kept: string[] = [];
    for (let k = 0; k < this.headers.length; k += 2) {
      if ((this.headers[k] as string).toLowerCase() !== lower) kept.push(this.headers[k] as string, this.headers[k + 1] as string);
    }
    this.headers = kept;
    return this;
  }

  /** Set status and headers at once (they are sent with the first write or end). */
  writeHead(status: number, headers?: HeadersInit): this {
    this.status(status);
    if (headers !== undefined) {
      this.assertHeadersOpen();
      flattenHeaders(headers, this.headers);
    }
    return this;
  }

  /**
   * Trailer fields sent after a chunked body (the response must be chunked: no Content-Length set, HTTP/1.1).
   */
  addTrailers(trailers: HeadersInit): this {
    this.trailerList = flattenHeaders(trailers, this.trailerList ?? []);
    return this;
  }

  /**
   * Send a piece of the body. The first call sends the head: chunked when no Content-Length was set (HTTP/1.1
   * clients), close-delimited for HTTP/1.0 clients.
   * @returns `false` when the connection's queue is over its high-water mark: `await res.drained()`.
   */
  write(chunk: BodyInit): boolean {
    if (this.done) throw new SocketClosedError('write after end');
    const data = bodyBytes(chunk);
    if (!this.sent) this.sendHead(-1);
    if (this.conn.socket.closed) return false;
    if (data.byteLength === 0 || this.isHead || this.framing === Framing.NONE) return this.conn.writable();
    if (this.framing === Framing.CHUNKED) {
      this.out(Buffer.from(`${data.byteLength.toString(16)}\r\n`, 'latin1'));
      this.out(data);
      this.out(CRLF);
    } else {
      if (this.framing === Framing.LENGTH) {
        if (data.byteLength > this.remainingLength) throw new InvalidArgumentError('chunk', 'the body is longer than the Content-Length set');
        this.remainingLength -= data.byteLength;
      }
      this.out(data);
    }
    return this.conn.writable();
  }

  /**
   * Resolves when the connection's write queue has room again, or when the connection closed (check
   * {@link ServerResponse.destroyed}: a client that went away is not an error of the handler).
   */
  drained(): Promise<void> {
    const socket = this.conn.socket;
    if (socket.closed) return Promise.resolve();
    return socket.drained().catch(() => undefined);
  }

  /** Whether the connection closed (the client went away, or a timeout): further output is discarded. */
  get destroyed(): boolean {
    return this.conn.socket.closed;
  }

  /**
   * Finish the response, with an optional last piece of body. Before anything was written, the body goes out
   * with a Content-Length in the same packet as the head.
   */
  end(body?: BodyInit): void {
    if (this.done) return;
    if (!this.sent) {
      if (typeof body === 'string') {
        if (!this.replay(body)) this.sendHead(Buffer.byteLength(body), undefined, body);
      } else {
        const data = body === undefined ? EMPTY : bodyBytes(body);
        this.sendHead(data.byteLength, data);
      }
    } else {
      if (body !== undefined) this.write(body);
      if (this.framing === Framing.CHUNKED && !this.isHead) {
        if (this.trailerList !== undefined && this.trailerList.length > 0) {
          let t = '0\r\n';
          for (let k = 0; k < this.trailerList.length; k += 2) t += `${this.trailerList[k]}: ${this.trailerList[k + 1]}\r\n`;
          this.out(Buffer.from(`${t}\r\n`, 'latin1'));
        } else {
          this.out(LAST_CHUNK);
        }
      } else if (this.framing === Framing.LENGTH && this.remainingLength > 0 && !this.isHead) {
        // The handler promised more bytes than it sent: the client would wait forever. Close instead.
        this.closeAfter = true;
      }
    }
    this.done = true;
    const waiters = this.finishWaiters;
    this.finishWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w();
    this.conn.responseFinished(this);
  }

  /** Send `body` (string → `text/plain; charset=utf-8` unless a content-type was set) and finish. */
  send(body: BodyInit, contentType?: string): void {
    if (contentType !== undefined) this.setHeader('content-type', contentType);
    else if (this.getHeader('content-type') === undefined) {
      this.header('content-type', typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream');
    }
    this.end(body);
  }

  /** Send `value` as JSON and finish. */
  json(value: unknown): void {
    if (this.getHeader('content-type') === undefined) this.header('content-type', 'application/json');
    this.end(JSON.stringify(value));
  }

  /** Resolves when the response has been finished with {@link ServerResponse.end}. */
  whenFinished(): Promise<void> {
    if (this.done) return Promise.resolve();
    return new Promise((resolve) => (this.finishWaiters ??= []).push(resolve));
  }

  private assertHeadersOpen(): void {
    if (this.sent) throw new InvalidArgumentError('header', 'the headers were already sent');
  }

  /** @internal Send a `100 Continue` if the client waits for one and nothing was sent yet. */
  sendContinue(): void {
    if (!this.sent && this.active) this.out(CONTINUE);
  }

  /**
   * Send the bytes of the server's last text response again when every input of {@link ServerResponse.sendHead}
   * is the same (status, reason, header list, version, keep-alive state, method class, Date second and the body
   * string): a response is a pure function of those, so the memo never changes what goes out. Strings are
   * immutable, so comparing them is enough; byte bodies are never memoized (their owner may change them).
   */
  private replay(text: string): boolean {
    const m = this.conn.server.lastResponse;
    if (
      m === undefined ||
      m.text !== text ||
      !sameHead(m.part, this.statusCode, this.statusMessage, this.headers) ||
      m.versionMinor !== this.versionMinor ||
      m.closeAfter !== this.closeAfter ||
      m.closing !== this.conn.closing ||
      m.isHead !== this.isHead ||
      m.date !== httpDate()
    ) {
      return false;
    }
    this.sent = true;
    this.framing = m.framing;
    this.remainingLength = m.remainingLength;
    this.closeAfter = m.closeAfterOut;
    this.out(m.bytes);
    return true;
  }

  /**
   * The status line and the handler's header lines, with what those headers say about framing. The server keeps
   * the last one: most handlers send the same status and headers on every response, so the loop over them (and
   * its strings) runs once, not per response. A pure function of status, reason and header list.
   */
  private headPart(status: number, h: readonly string[]): HeadPart {
    const server = this.conn.server;
    const last = server.lastHead;
    if (sameHead(last, status, this.statusMessage, h)) return last;
    const reason = this.statusMessage === undefined ? (STATUS_TEXT[status] ?? 'Unknown') : validateHeaderValue('statusMessage', this.statusMessage);
    let prefix = `HTTP/1.1 ${status} ${reason}\r\n`;
    let userLength = -1;
    let userChunked = false;
    let connectionClose = false;
    for (let k = 0; k < h.length; k += 2) {
      const name = h[k] as string;
      const lower = name.length === 14 || name.length === 17 || name.length === 10 ? name.toLowerCase() : '';
      if (lower === 'content-length') {
        userLength = Number(h[k + 1]);
        continue;
      }
      if (lower === 'transfer-encoding') {
        userChunked = true;
        continue;
      }
      if (lower === 'connection') {
        if ((h[k + 1] as string).toLowerCase().includes('close')) connectionClose = true;
        continue;
      }
      prefix += `${name}: ${h[k + 1]}\r\n`;
    }
    const part: HeadPart = { status, message: this.statusMessage, headers: h.slice(), prefix, userLength, userChunked, connectionClose };
    server.lastHead = part;
    return part;
  }

  private sendHead(length: number, body?: Uint8Array, text?: string): void {
    const memo = text !== undefined && text.length <= MEMO_MAX_TEXT;
    const closeAfterIn = this.closeAfter;
    this.sent = true;
    const status = this.statusCode;
    const noBody = statusHasNoBody(status);
    const h = this.headers;
    const part = this.headPart(status, h);
    const userLength = part.userLength;
    const userChunked = part.userChunked;
    if (part.connectionClose) this.closeAfter = true;
    let s = part.prefix;
    const date = httpDate();
    s += `Date: ${date}\r\n`;
    if (noBody) {
      this.framing = Framing.NONE;
    } else if (length >= 0 && userLength < 0 && !userChunked) {
      this.framing = Framing.LENGTH;
      this.remainingLength = 0;
      s += `Content-Length: ${length}\r\n`;
    } else if (userLength >= 0 && Number.isSafeInteger(userLength)) {
      this.framing = Framing.LENGTH;
      this.remainingLength = userLength;
      s += `Content-Length: ${userLength}\r\n`;
    } else if (this.versionMinor === 1) {
      this.framing = Framing.CHUNKED;
      s += 'Transfer-Encoding: chunked\r\n';
    } else {
      this.framing = Framing.CLOSE;
      this.closeAfter = true;
    }
    if (this.conn.closing) this.closeAfter = true;
    if (this.closeAfter) s += 'Connection: close\r\n\r\n';
    else s += this.versionMinor === 0 ? 'Connection: keep-alive\r\n\r\n' : '\r\n';
    if (text !== undefined && length > 0 && !noBody && !this.isHead) {
      // The head is ASCII (names and values are validated), so head and text body encode as one UTF-8 string:
      // one allocation, one copy, one send.
      const bytes = Buffer.from(s + text);
      this.out(bytes);
      if (this.framing === Framing.LENGTH && userLength >= 0) this.remainingLength = Math.max(0, userLength - length);
      if (memo) {
        this.conn.server.lastResponse = {
          text,
          part,
          versionMinor: this.versionMinor,
          closeAfter: closeAfterIn,
          closing: this.conn.closing,
          isHead: this.isHead,
          date,
          bytes,
          framing: this.framing,
          remainingLength: this.remainingLength,
          closeAfterOut: this.closeAfter,
        };
      }
    } else if (body !== undefined && body.byteLength > 0 && !noBody && !this.isHead) {
      if (body.byteLength <= 1024) {
        // One buffer, one send: head and a small body together.
        const headBytes = Buffer.byteLength(s, 'latin1');
        const out = Buffer.allocUnsafe(headBytes + body.byteLength);
        out.write(s, 0, 'latin1');
        out.set(body, headBytes);
        this.out(out);
      } else {
        this.out(Buffer.from(s, 'latin1'));
        this.out(body);
      }
      if (this.framing === Framing.LENGTH && userLength >= 0) this.remainingLength = Math.max(0, userLength - body.byteLength);
    } else {
      this.out(Buffer.from(s, 'latin1'));
    }
  }

  private out(data: Uint8Array): void {
    const socket = this.conn.socket;
    // A closed connection (the client left mid-response) swallows output, as node:http does: the handler learns it
    // from `destroyed` or from write() returning false, not from an exception in the middle of its work.
    if (!socket.writable) return;
    if (this.active) socket.write(data);
    else (this.output ??= []).push(data);
  }

  /** @internal The connection answers this request with an error instead: later calls do nothing. */
  abandon(): void {
    this.sent = true;
    this.done = true;
    this.active = false;
    this.output = undefined;
    this.framing = Framing.NONE;
  }

  /** @internal This response is now first in line: send what it buffered. */
  activate(): void {
    this.active = true;
    const output = this.output;
    this.output = undefined;
    if (output !== undefined) for (const data of output) this.out(data);
  }
}

/** Text bodies up to this length (UTF-16 units) are memoized by {@link ServerResponse}'s `replay`. */
const MEMO_MAX_TEXT = 16 * 1024;

/** @internal The inputs and the output of the last memoizable response (see `ServerResponse.replay`). */
interface ResponseMemo {
  readonly text: string;
  /** Status, reason and header list, as sent. */
  readonly part: HeadPart;
  readonly versionMinor: number;
  readonly closeAfter: boolean;
  readonly closing: boolean;
  readonly isHead: boolean;
  readonly date: string;
  readonly bytes: Buffer;
  readonly framing: Framing;
  readonly remainingLength: number;
  readonly closeAfterOut: boolean;
}

/** @internal The status line and header lines of a response head, and what the headers say (see `headPart`). */
interface HeadPart {
  readonly status: number;
  readonly message: string | undefined;
  readonly headers: readonly string[];
  readonly prefix: string;
  readonly userLength: number;
  readonly userChunked: boolean;
  readonly connectionClose: boolean;
}

/** Whether `part` was made from this status, reason phrase and header list. */
function sameHead(part: HeadPart | undefined, status: number, message: string | undefined, headers: readonly string[]): part is HeadPart {
  if (part === undefined || part.status !== status || part.message !== message) return false;
  const h = part.headers;
  if (h.length !== headers.length) return false;
  for (let k = 0; k < h.length; k++) if (h[k] !== headers[k]) return false;
  return true;
}

const EMPTY = new Uint8Array(0);
const EMPTY_BUFFER = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n');

/** One connection: parser, in-flight requests in order, timeouts. @internal */
class Connection implements ParserHandler, BodySource {
  readonly socket: Socket;
  readonly server: HttpServer;
  private readonly parser: HttpParser;
  private readonly inflight: ServerResponse[] = [];
  private receiving: ServerRequest | undefined;
  private served = 0;
  closing = false;
  private broken = false;
  private paused = false;
  /** Deadline (on the server's coarse clock) of what the connection waits for; Infinity for none. */
  deadline: number;
  /** What times out at the deadline. */
  waiting: 'head' | 'idle' | 'request' | 'linger';
  private bodyPaused = false;
  private sawBytes = false;
  private lastMessage = false;
  private peerEnded = false;
  private pendingRefusal: Buffer | undefined;
  private ignoreInput = false;
  /** An upgrade request waiting for the responses before it, and the bytes that followed its head. */
  private upgrading: { req: ServerRequest; head: Buffer } | undefined;

  constructor(server: HttpServer, socket: Socket) {
    this.server = server;
    this.socket = socket;
    this.parser = new HttpParser(true, server.limits, this);
    this.waiting = 'head';
    this.deadline = server.clock + server.timeouts.headersTimeout;
    socket.handle({
      data: (chunk) => this.onData(chunk),
      end: () => this.onEnd(),
      close: (error) => this.onClose(error),
    });
  }

  get idle(): boolean {
    return this.inflight.length === 0 && this.receiving === undefined && this.parser.idle;
  }

  writable(): boolean {
    return this.socket.bufferedAmount < this.socket.highWaterMark;
  }

  private onData(chunk: Buffer): void {
    if (this.broken || this.ignoreInput) return; // lingering after an error answer, or after the last request: discard
    if (!this.sawBytes) {
      this.sawBytes = true;
      if (this.waiting === 'idle') {
        this.waiting = 'head';
        this.deadline = this.server.clock + this.server.timeouts.headersTimeout;
      }
    }
    const socket = this.socket;
    socket.cork();
    let used = chunk.length;
    try {
      used = this.parser.execute(chunk);
    } catch (error) {
      if (error instanceof HttpParseError) this.refuse(error.status, error.message);
      else {
        socket.uncork();
        throw error;
      }
    }
    socket.uncork();
    const upgrading = this.upgrading;
    if (upgrading !== undefined) {
      // The parser stopped after the upgrade request's head: the rest is the new protocol's.
      upgrading.head = Buffer.from(chunk.subarray(used));
      if (this.inflight.length === 0) this.handOff();
      else socket.pause(); // earlier requests are answered first; nothing more is read until then
    }
  }

  /** Give the socket to the server's upgrade handler. */
  private handOff(): void {
    const upgrading = this.upgrading as { req: ServerRequest; head: Buffer };
    this.upgrading = undefined;
    const socket = this.socket;
    if (socket.closed) return;
    socket.handle({});
    if (socket.isPaused) socket.resume();
    this.server.dispatchUpgrade(this, upgrading.req, upgrading.head);
  }

  // ParserHandler
  onHead(head: MessageHead): void {
    const server = this.server;
    const hasBody = head.chunked || head.contentLength > 0;
    const req = new ServerRequest(head, hasBody ? new Body(this, server.limits.maxBodyBytes, false) : undefined, this);
    if (head.upgrade && !hasBody && head.versionMinor === 1 && !this.closing && server.takesUpgrade(req)) {
      // Nothing after this head is HTTP: stop here; onData hands the socket over with what followed.
      this.upgrading = { req, head: EMPTY_BUFFER };
      this.ignoreInput = true;
      this.parser.stop();
      return;
    }
    this.served += 1;
    const closeAfter = !head.keepAlive || this.closing || this.served >= server.timeouts.maxRequestsPerConnection;
    const res = new ServerResponse(this, req, head, closeAfter);
    this.inflight.push(res);
    if (hasBody) this.receiving = req;
    if (this.inflight.length === 1) res.activate();
    if (this.waiting !== 'request') {
      this.waiting = 'request';
      this.deadline = this.server.clock + server.timeouts.requestTimeout;
    }
    // Nothing after this message is parsed: its response closes the connection.
    if (closeAfter) this.lastMessage = true;
    if (this.inflight.length >= server.timeouts.maxPipelined) this.pauseReading();
    server.dispatch(req, res);
  }

  onBody(chunk: Buffer): void {
    this.receiving?.body.push(chunk);
  }

  onComplete(trailers: string[] | undefined): void {
    const req = this.receiving;
    this.receiving = undefined;
    req?.body.end(trailers);
    this.sawBytes = false;
    if (this.lastMessage) {
      this.parser.stop();
      this.ignoreInput = true;
    }
  }

  // BodySource
  demand(): void {
    const res = this.inflight[0];
    if (res !== undefined && this.receiving !== undefined && res.request === this.receiving && findHeader(res.request.rawHeaders, 'expect') !== undefined) {
      res.sendContinue();
    }
  }

  pause(): void {
    this.bodyPaused = true;
    this.socket.pause();
  }

  resume(): void {
    this.bodyPaused = false;
    if (!this.paused) this.socket.resume();
  }

  private pauseReading(): void {
    this.paused = true;
    this.socket.pause();
  }

  /** A response ended. Send the next in line, or close, or wait for the next request. */
  responseFinished(res: ServerResponse): void {
    if (this.inflight[0] !== res) return; // a later response finished early: it waits in line, buffered
    for (;;) {
      const head = this.inflight[0];
      if (head === undefined || !head.finished) break;
      this.inflight.shift();
      if (head.request.receivingBody) {
        // The handler did not read the body: drop the rest as it arrives (it must still be parsed to find the
        // next request), or close if it answered with Connection: close anyway.
        head.request.body.discard();
      }
      if (head.closeAfter) {
        this.finishAndClose();
        return;
      }
      const next = this.inflight[0];
      if (next !== undefined) next.activate();
    }
    if (this.inflight.length === 0 && this.upgrading !== undefined) {
      this.handOff();
      return;
    }
    if (this.paused && this.inflight.length < this.server.timeouts.maxPipelined) {
      this.paused = false;
      if (!this.bodyPaused) this.socket.resume();
    }
    if (this.inflight.length === 0 && this.pendingRefusal !== undefined) {
      // A malformed request followed the ones just answered: its refusal goes last, then the connection closes.
      if (this.socket.writable) this.socket.write(this.pendingRefusal);
      this.pendingRefusal = undefined;
      this.finishAndClose();
      return;
    }
    if (this.inflight.length === 0 && this.receiving === undefined) {
      if (this.closing || this.peerEnded) {
        this.finishAndClose();
        return;
      }
      if (this.parser.idle) {
        this.waiting = 'idle';
        this.deadline = this.server.clock + this.server.timeouts.keepAliveTimeout;
      } else {
        this.waiting = 'head';
        this.deadline = this.server.clock + this.server.timeouts.headersTimeout;
      }
    }
  }

  /** Answer a broken request with `status` and close (after the responses before it). */
  refuse(status: number, message: string): void {
    if (this.broken) return;
    this.broken = true;
    const broken = this.receiving;
    this.receiving = undefined;
    if (broken !== undefined) {
      // The body of a request already dispatched turned out malformed. Its handler sees the error from the body;
      // if it has not answered yet, the error response takes its place. If it already answered, there is no
      // request left to answer: the connection just closes (the next message cannot be found).
      broken.body.fail(new HttpParseError(status, message));
      const last = this.inflight[this.inflight.length - 1];
      if (last !== undefined && last.request === broken) {
        if (last.headersSent) {
          last.closeAfter = true;
          return;
        }
        this.inflight.pop();
        last.abandon();
      } else {
        this.finishAndClose();
        return;
      }
    }
    const text = `${status} ${STATUS_TEXT[status] ?? 'Error'}: ${message}\n`;
    const wire = Buffer.from(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nDate: ${httpDate()}\r\nConnection: close\r\n\r\n${text}`,
    );
    // Earlier pipelined responses still in progress go first; the refusal waits until they end.
    if (this.inflight.length === 0) {
      if (this.socket.writable) this.socket.write(wire);
      this.finishAndClose();
      return;
    }
    this.pendingRefusal = wire;
  }

  /**
   * Flush, half-close and linger: closing a socket with unread input makes the kernel send a reset, which can
   * destroy the answer before the client reads it. So the write side is shut down, input is discarded until the
   * client closes, and a linger deadline bounds the wait.
   */
  private finishAndClose(): void {
    this.broken = true;
    this.waiting = 'linger';
    this.deadline = this.server.clock + LINGER_MS;
    if (this.socket.isPaused) this.socket.resume();
    this.socket.end();
  }

  private onEnd(): void {
    try {
      this.parser.finish();
    } catch {
      // A request cut off by the client: nothing to answer.
    }
    this.receiving?.body.fail(new SocketClosedError('the client closed the connection before the body ended'));
    this.receiving = undefined;
    // The client half-closed (`printf … | nc` does, after its requests): answer what is in flight, in order,
    // the last answer with Connection: close, then close.
    this.peerEnded = true;
    this.ignoreInput = true;
    const last = this.inflight[this.inflight.length - 1];
    if (last !== undefined) last.closeAfter = true;
    else if (this.waiting !== 'linger') this.socket.close();
  }

  private onClose(error: Error | undefined): void {
    this.receiving?.body.fail(error ?? new SocketClosedError('the connection closed'));
    this.receiving = undefined;
    this.server.connectionClosed(this);
  }

  /** Called by the server's sweep when `deadline` passed. */
  expire(): void {
    switch (this.waiting) {
      case 'idle':
      case 'linger':
        this.socket.close();
        return;
      case 'head':
        if (this.sawBytes || !this.parser.idle) this.refuse(408, 'the request head did not arrive in time');
        else if (this.served === 0) this.refuse(408, 'no request arrived in time');
        else this.socket.close();
        return;
      case 'request': {
        const res = this.inflight[0];
        if (res !== undefined && !res.headersSent && this.inflight.length === 1) {
          this.inflight.length = 0;
          res.abandon();
          this.refuse(408, 'the request did not complete in time');
        } else {
          this.socket.destroy(new Error('request timeout'));
        }
        return;
      }
    }
  }

  /** Graceful close: finish what is in flight, then close. */
  shutdown(): void {
    this.closing = true;
    if (this.idle && this.waiting !== 'linger') this.socket.close();
  }
}

/**
 * An HTTP/1.1 server on an fdloop runtime. Create it with {@link createServer}.
 */
export class HttpServer {
  /** The runtime. */
  readonly runtime: Runtime;
  /** The listening socket. */
  readonly listener: Server;
  /** @internal */
  readonly limits: { maxHeaderBytes: number; maxHeaderCount: number; maxBodyBytes: number };
  /** @internal */
  readonly timeouts: {
    headersTimeout: number;
    requestTimeout: number;
    keepAliveTimeout: number;
    maxPipelined: number;
    maxRequestsPerConnection: number;
  };
  private readonly handler: RequestHandler;
  private upgradeHandler: UpgradeHandler | undefined;
  private upgradeFilter: ((req: ServerRequest) => boolean) | undefined;
  private readonly connections = new Set<Connection>();
  private readonly maxConnections: number;
  private readonly sweepTimer: ReturnType<Runtime['setInterval']>;
  private closeWaiters: (() => void)[] | undefined;
  private isClosing = false;
  /** Requests served (dispatched to the handler) so far. */
  requestCount = 0;
  /** @internal The last memoizable text response (see `ServerResponse.replay`). */
  lastResponse: ResponseMemo | undefined;
  /** @internal The last response head's status line and header lines (see `ServerResponse.headPart`). */
  lastHead: HeadPart | undefined;
  /**
   * @internal A coarse clock (performance.now() at the last sweep) for deadlines: reading the time twice per request
   * showed up in profiles, and a deadline off by at most one sweep period (a quarter of the shortest timeout) is
   * as good.
   */
  clock = performance.now();

  /** @internal */
  constructor(runtime: Runtime, options: ServerOptions, handler: RequestHandler) {
    this.runtime = runtime;
    this.handler = handler;
    if (options.upgrade !== undefined) this.onUpgrade(options.upgrade, options.shouldUpgrade);
    this.limits = {
      maxHeaderBytes: limitOption('maxHeaderBytes', options.maxHeaderBytes, DEFAULTS.maxHeaderBytes, 64),
      maxHeaderCount: limitOption('maxHeaderCount', options.maxHeaderCount, DEFAULTS.maxHeaderCount, 1),
      maxBodyBytes: limitOption('maxBodyBytes', options.maxBodyBytes, DEFAULTS.maxBodyBytes, 0),
    };
    this.timeouts = {
      headersTimeout: limitOption('headersTimeout', options.headersTimeout, DEFAULTS.headersTimeout, 1),
      requestTimeout: limitOption('requestTimeout', options.requestTimeout, DEFAULTS.requestTimeout, 1),
      keepAliveTimeout: limitOption('keepAliveTimeout', options.keepAliveTimeout, DEFAULTS.keepAliveTimeout, 1),
      maxPipelined: limitOption('maxPipelined', options.maxPipelined, DEFAULTS.maxPipelined, 1),
      maxRequestsPerConnection: limitOption('maxRequestsPerConnection', options.maxRequestsPerConnection, DEFAULTS.maxRequestsPerConnection, 1),
    };
    this.maxConnections = limitOption('maxConnections', options.maxConnections, DEFAULTS.maxConnections, 1);
    const listen: ListenOptions = {
      host: options.host,
      port: options.port,
      path: options.path,
      reusePort: options.reusePort,
      backlog: options.backlog,
      // The connection decides when to close after the client's end of stream (answers in flight go out first).
      allowHalfOpen: true,
    };
    this.listener = useNet(runtime).listen(listen, (socket) => this.accept(socket));
    // One sweep for every connection's deadline instead of a timer per connection, re-armed per request.
    const shortest = Math.min(this.timeouts.headersTimeout, this.timeouts.keepAliveTimeout, this.timeouts.requestTimeout, LINGER_MS);
    const every = Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
    this.sweepTimer = runtime.setInterval(() => this.sweep(), every);
    this.sweepTimer.unref();
  }

  /** The bound port. */
  get port(): number {
    return this.listener.port;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Set (or with `undefined`, remove) the handler of upgrade requests; see {@link ServerOptions.upgrade} and
   * {@link UpgradeHandler}. Returns the server.
   *
   * @example
   * ```ts
   * server.onUpgrade((req, socket, head) => wss.handleUpgrade(req, socket, head), (req) => wss.shouldHandle(req));
   * ```
   */
  onUpgrade(handler: UpgradeHandler | undefined, shouldUpgrade?: (req: ServerRequest) => boolean): this {
    if (handler !== undefined && typeof handler !== 'function') throw new InvalidArgumentError('upgrade', 'must be a function');
    if (shouldUpgrade !== undefined && typeof shouldUpgrade !== 'function') throw new InvalidArgumentError('shouldUpgrade', 'must be a function');
    this.upgradeHandler = handler;
    this.upgradeFilter = shouldUpgrade;
    return this;
  }

  /** @internal Whether `req` (an upgrade request) is taken over by the upgrade handler. */
  takesUpgrade(req: ServerRequest): boolean {
    return this.upgradeHandler !== undefined && (this.upgradeFilter === undefined || this.upgradeFilter(req));
  }

  /** @internal The connection is handed to the upgrade handler: it is no longer the server's. */
  dispatchUpgrade(conn: Connection, req: ServerRequest, head: Buffer): void {
    this.connectionClosed(conn);
    const socket = conn.socket;
    const handler = this.upgradeHandler;
    if (handler === undefined) {
      socket.close();
      return;
    }
    this.requestCount += 1;
    let result: void | Promise<void>;
    try {
      result = handler(req, socket, head);
    } catch (error) {
      this.upgradeFailed(socket, error);
      return;
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
      (result as Promise<void>).then(undefined, (error: unknown) => this.upgradeFailed(socket, error));
    }
  }

  private upgradeFailed(socket: Socket, error: unknown): void {
    socket.destroy(error instanceof Error ? error : new Error(String(error)));
    this.runtime.setImmediate(() => {
      throw error;
    });
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.maxConnections || this.isClosing) {
      socket.close();
      return;
    }
    this.connections.add(new Connection(this, socket));
  }

  /** @internal */
  dispatch(req: ServerRequest, res: ServerResponse): void {
    this.requestCount += 1;
    let result: void | Promise<void>;
    try {
      result = this.handler(req, res);
    } catch (error) {
      this.handlerFailed(res, error);
      return;
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
      (result as Promise<void>).then(undefined, (error: unknown) => this.handlerFailed(res, error));
    }
  }

  private handlerFailed(res: ServerResponse, error: unknown): void {
    if (!res.headersSent) {
      res.statusCode = 500;
      res.closeAfter = true;
      res.end('Internal Server Error\n');
    } else if (!res.finished) {
      res.closeAfter = true;
      res.end();
    }
    // Reported like any exception from a callback: the runtime's onError (by default rethrown on the next tick).
    this.runtime.setImmediate(() => {
      throw error;
    });
  }

  /** @internal */
  connectionClosed(conn: Connection): void {
    this.connections.delete(conn);
    if (this.isClosing && this.connections.size === 0) this.finishClose();
  }

  private sweep(): void {
    const now = performance.now();
    this.clock = now;
    for (const conn of this.connections) if (conn.deadline <= now) conn.expire();
  }

  /**
   * Stop accepting, close idle connections, let requests in flight finish (their responses say
   * `Connection: close`), then resolve.
   */
  close(): Promise<void> {
    if (!this.isClosing) {
      this.isClosing = true;
      this.listener.close();
      for (const conn of [...this.connections]) conn.shutdown();
    }
    if (this.connections.size === 0) {
      this.finishClose();
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.closeWaiters ??= []).push(resolve));
  }

  /** Close every connection now, in flight or not. */
  closeAllConnections(): void {
    for (const conn of [...this.connections]) conn.socket.close();
  }

  private finishClose(): void {
    this.sweepTimer.cancel();
    const waiters = this.closeWaiters;
    this.closeWaiters = undefined;
    if (waiters !== undefined) for (const w of waiters) w();
  }
}

/**
 * Create an HTTP/1.1 server listening on `options.host`/`options.port` (or a unix `path`).
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { createServer } from '@fdloop/mod-http';
 *
 * const rt = createRuntime();
 * const server = createServer(rt, { port: 8080 }, (req, res) => {
 *   if (req.path === '/json') res.json({ hello: 'world' });
 *   else res.end('Hello World');
 * });
 * ```
 */
export function createServer(runtime: Runtime, options: ServerOptions, handler: RequestHandler): HttpServer {
  if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function');
  return new HttpServer(runtime, options ?? {}, handler);
}
