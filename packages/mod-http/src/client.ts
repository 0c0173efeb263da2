/**
 * The HTTP/1.1 client: {@link HttpClient} with a keep-alive pool per origin, {@link ClientResponse}.
 *
 * @module
 */

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  ErrorCode,
  FdloopError,
  HttpParseError,
  InvalidArgumentError,
  describeReceived,
  SocketClosedError,
  TimeoutError,
  type Runtime,
} from '@fdloop/core';
import { useNet, type Socket } from '@fdloop/mod-net';
import { Body, type BodySource } from './body.js';
import { bodyBytes, flattenHeaders, type BodyInit, type HeadersInit } from './common.js';
import { HttpParser, findHeader, headersObject, type MessageHead, type ParserHandler } from './parser.js';

/** Options of an {@link HttpClient}. */
export interface ClientOptions {
  /** Most connections per origin (host and port); further requests wait for one. Defaults to `16`. */
  readonly maxSocketsPerOrigin?: number;
  /** How long an idle pooled connection is kept. Defaults to `4000` ms (below Node's server default of 5 s). */
  readonly keepAliveTimeout?: number;
  /** Time allowed to connect. Defaults to `10000` ms. */
  readonly connectTimeout?: number;
  /** Time allowed from sending a request to the end of the response head. Defaults to `30000` ms. */
  readonly headersTimeout?: number;
  /** Largest response head. Defaults to `16384`. */
  readonly maxHeaderBytes?: number;
  /** Largest response body. Defaults to `Infinity`. */
  readonly maxBodyBytes?: number;
}

/** Options of one request. */
export interface RequestOptions {
  /** The method. Defaults to `'GET'`. */
  readonly method?: string;
  /** Header fields (Host, Content-Length and Transfer-Encoding are set by the client). */
  readonly headers?: HeadersInit;
  /** The body: sent with a Content-Length, or chunked when it is an async iterable of chunks. */
  readonly body?: BodyInit | AsyncIterable<Uint8Array | string>;
  /** Abort the request (connect, send, or reading the response); rejects or fails the body with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Overrides the client's `headersTimeout` for this request. */
  readonly timeout?: number;
  /** `'follow'` redirects (301, 302, 303, 307, 308) up to `maxRedirects`, or return them (`'manual'`). Defaults to `'manual'`. */
  readonly redirect?: 'manual' | 'follow';
  /** Most redirects followed. Defaults to `5`. */
  readonly maxRedirects?: number;
}

/** Options of {@link HttpClient.upgrade}. */
export interface UpgradeOptions {
  /** The protocol to switch to: the `Upgrade` field (`'websocket'`). */
  readonly protocol: string;
  /** More header fields (`Connection` and `Upgrade` are set by the client). */
  readonly headers?: HeadersInit;
  /** Abort the attempt (connect, send, or waiting for the answer). */
  readonly signal?: AbortSignal;
  /** Overrides the client's `headersTimeout` for the answer. */
  readonly timeout?: number;
}

/**
 * What {@link HttpClient.upgrade} resolves with: the server switched protocols (`101`, with the socket and the
 * bytes that followed the answer's head), or it answered otherwise (a normal response, body included).
 */
export type UpgradeResult =
  | {
      /** The server answered `101 Switching Protocols`. */
      readonly upgraded: true;
      /** The 101 response (headers; no body). */
      readonly response: ClientResponse;
      /** The connection, now the caller's: it left the pool, and nothing reads it until `socket.handle()`. */
      readonly socket: Socket;
      /** Bytes of the new protocol that arrived together with the 101 head (often empty). */
      readonly head: Buffer;
    }
  | {
      /** The server did not switch protocols. */
      readonly upgraded: false;
      /** Its answer, to be read or discarded like any response. */
      readonly response: ClientResponse;
    };

/** A response: status and headers at once, the body as a stream or whole. */
export class ClientResponse {
  /** The status code. */
  readonly status: number;
  /** The reason phrase. */
  readonly statusText: string;
  /** `'1.1'` or `'1.0'`. */
  readonly httpVersion: string;
  /** Header fields as a flat list (lower-case names). */
  readonly rawHeaders: readonly string[];
  /** The body. */
  readonly body: Body;
  /** The URL this response came from (after redirects). */
  readonly url: string;
  /** Whether redirects were followed to get here. */
  readonly redirected: boolean;
  private headerObject: Record<string, string | string[]> | undefined;

  /** @internal */
  constructor(head: MessageHead, body: Body, url: string, redirected: boolean) {
    this.status = head.status;
    this.statusText = head.reason;
    this.httpVersion = head.versionMinor === 1 ? '1.1' : '1.0';
    this.rawHeaders = head.headers;
    this.body = body;
    this.url = url;
    this.redirected = redirected;
  }

  /** Whether the status is 2xx. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /** Header fields as an object (lower-case names). */
  get headers(): Record<string, string | string[]> {
    return (this.headerObject ??= headersObject(this.rawHeaders));
  }

  /** The first value of header `name`. */
  header(name: string): string | undefined {
    return findHeader(this.rawHeaders, name.toLowerCase());
  }

  /** The body as text (UTF-8). */
  text(): Promise<string> {
    return this.body.text();
  }

  /** The body parsed as JSON. */
  json<T = unknown>(): Promise<T> {
    return this.body.json<T>();
  }

  /** The body as one Buffer. */
  bytes(): Promise<Buffer> {
    return this.body.bytes();
  }

  /** Discard the rest of the body (the connection returns to the pool once it has arrived). */
  discard(): void {
    this.body.discard();
  }
}

interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly redirected: boolean;
  resolve(res: ClientResponse): void;
  reject(error: Error): void;
  response: ClientResponse | undefined;
  body: Body | undefined;
  timer: ReturnType<Runtime['setTimeout']> | undefined;
  gotBytes: boolean;
  /** Send again on a fresh connection (a reused connection closed before any byte of the answer). */
  retry: ((error: Error) => void) | undefined;
  /** Runs when the exchange ends (body complete, failed or closed). */
  onFinish: (() => void) | undefined;
  /** The request asked to switch protocols; set to the 101 answer's head when the server agreed. */
  upgrade: boolean;
  switched: MessageHead | undefined;
}

/** @internal The socket and leftover bytes of a `101` response (see {@link HttpClient.upgrade}). */
const UPGRADED = new WeakMap<ClientResponse, { socket: Socket; head: Buffer }>();

/** One pooled connection. */
class ClientConnection implements ParserHandler, BodySource {
  readonly socket: Socket;
  readonly pool: OriginPool;
  private readonly parser: HttpParser;
  exchange: Exchange | undefined;
  reused = false;
  private keepAlive = true;

  constructor(pool: OriginPool, socket: Socket, limits: { maxHeaderBytes: number; maxHeaderCount: number; maxBodyBytes: number }) {
    this.pool = pool;
    this.socket = socket;
    this.parser = new HttpParser(false, limits, this);
    socket.handle({
      data: (chunk) => this.onData(chunk),
      end: () => this.onEnd(),
      close: (error) => this.onClose(error),
      timeout: () => socket.close(),
    });
  }

  private onData(chunk: Buffer): void {
    const ex = this.exchange;
    if (ex === undefined) {
      // Bytes nobody asked for on an idle connection: the server is confused; drop the connection.
      this.socket.close();
      return;
    }
    ex.gotBytes = true;
    let used = chunk.length;
    try {
      used = this.parser.execute(chunk);
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (ex.switched !== undefined) this.handOff(ex, ex.switched, Buffer.from(chunk.subarray(used)));
  }

  /** The server switched protocols: the socket leaves the pool and goes to the caller with what followed the head. */
  private handOff(ex: Exchange, head: MessageHead, rest: Buffer): void {
    this.exchange = undefined;
    const socket = this.socket;
    socket.handle({});
    socket.setTimeout(0);
    socket.ref();
    this.pool.remove(this);
    const res = new ClientResponse(head, new Body(undefined, 0, true), ex.url, ex.redirected);
    UPGRADED.set(res, { socket, head: rest });
    ex.resolve(res);
    ex.onFinish?.();
  }

  onHead(head: MessageHead): boolean {
    const ex = this.exchange;
    if (ex === undefined) return false;
    if (head.status === 101) {
      // Nothing after this head is HTTP: stop the parser; onData hands the socket over.
      if (!ex.upgrade) throw new HttpParseError(502, 'the server switched protocols without being asked to');
      ex.timer?.cancel();
      ex.timer = undefined;
      ex.switched = head;
      this.parser.stop();
      return false;
    }
    if (head.status < 200) return false; // 100 Continue and friends: the real head follows
    this.keepAlive = head.keepAlive;
    ex.timer?.cancel();
    ex.timer = undefined;
    const noBody = ex.method === 'HEAD' || head.status === 204 || head.status === 304;
    const hasBody = !noBody && (head.chunked || head.contentLength !== 0);
    const body = new Body(hasBody ? this : undefined, this.pool.client.limits.maxBodyBytes, !hasBody);
    ex.body = body;
    const res = new ClientResponse(head, body, ex.url, ex.redirected);
    ex.response = res;
    ex.resolve(res);
    return noBody;
  }

  onBody(chunk: Buffer): void {
    this.exchange?.body?.push(chunk);
  }

  onComplete(trailers: string[] | undefined): void {
    const ex = this.exchange;
    if (ex === undefined || ex.response === undefined) return;
    this.exchange = undefined;
    ex.body?.end(trailers);
    ex.onFinish?.();
    if (this.keepAlive && !this.parser.readingUntilClose) this.pool.release(this);
    else this.socket.close();
  }

  demand(): void {}

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private onEnd(): void {
    try {
      this.parser.finish();
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private onClose(error: Error | undefined): void {
    this.pool.remove(this);
    const ex = this.exchange;
    if (ex === undefined) return;
    this.exchange = undefined;
    ex.timer?.cancel();
    const reason = error ?? new SocketClosedError('the server closed the connection before the response ended');
    if (ex.response === undefined) {
      // A pooled connection the server had already closed: retry once on a fresh one (the request never reached
      // a handler that answered).
      if (this.reused && !ex.gotBytes && ex.retry !== undefined) ex.retry(reason);
      else ex.reject(reason);
    } else {
      ex.body?.fail(reason);
    }
    ex.onFinish?.();
  }

  /** Fail the exchange and drop the connection. */
  fail(error: Error): void {
    const ex = this.exchange;
    this.exchange = undefined;
    if (ex !== undefined) {
      ex.timer?.cancel();
      if (ex.response === undefined) ex.reject(error);
      else ex.body?.fail(error);
    }
    ex?.onFinish?.();
    this.socket.destroy(error);
  }
}

interface Pending {
  readonly start: (conn: ClientConnection | undefined, error?: Error) => void;
}

/** Connections of one origin. */
class OriginPool {
  readonly client: HttpClient;
  readonly host: string;
  readonly port: number;
  readonly idle: ClientConnection[] = [];
  readonly busy = new Set<ClientConnection>();
  connecting = 0;
  readonly waiting: Pending[] = [];

  constructor(client: HttpClient, host: string, port: number) {
    this.client = client;
    this.host = host;
    this.port = port;
  }

  acquire(signal: AbortSignal | undefined): Promise<ClientConnection> {
    for (;;) {
      const conn = this.idle.pop();
      if (conn === undefined) break;
      if (conn.socket.closed) continue;
      conn.socket.setTimeout(0);
      conn.socket.ref();
      conn.reused = true;
      this.busy.add(conn);
      return Promise.resolve(conn);
    }
    if (this.busy.size + this.connecting < this.client.maxSocketsPerOrigin) return this.open(signal);
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        start: (conn, error) => {
          signal?.removeEventListener('abort', onAbort);
          if (error !== undefined) reject(error);
          else if (conn !== undefined) resolve(conn);
          else this.open(signal).then(resolve, reject);
        },
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(pending);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(pending);
    });
  }

  private async open(signal: AbortSignal | undefined): Promise<ClientConnection> {
    this.connecting += 1;
    try {
      const socket = await useNet(this.client.runtime).connect({ host: this.host, port: this.port, timeout: this.client.connectTimeout, signal });
      const conn = new ClientConnection(this, socket, this.client.limits);
      this.busy.add(conn);
      return conn;
    } finally {
      this.connecting -= 1;
    }
  }

  release(conn: ClientConnection): void {
    this.busy.delete(conn);
    if (this.client.closed) {
      conn.socket.close();
      return;
    }
    const next = this.waiting.shift();
    if (next !== undefined) {
      conn.reused = true;
      this.busy.add(conn);
      next.start(conn);
      return;
    }
    this.idle.push(conn);
    // Idle pooled connections neither keep the runtime alive nor live forever.
    conn.socket.unref();
    conn.socket.setTimeout(this.client.keepAliveTimeout);
  }

  remove(conn: ClientConnection): void {
    this.busy.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    const next = this.waiting.shift();
    if (next !== undefined) next.start(undefined);
  }

  close(): void {
    for (const conn of [...this.idle, ...this.busy]) conn.socket.close();
    for (const w of this.waiting.splice(0)) w.start(undefined, new SocketClosedError('the client was closed'));
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * An HTTP/1.1 client with a keep-alive connection pool per origin. Plain `http:` only: HTTPS is not supported
 * (yet), and asking for it throws.
 *
 * @example
 * ```ts
 * const client = new HttpClient(rt);
 * const res = await client.request('http://127.0.0.1:8080/items', { method: 'POST', body: JSON.stringify(item) });
 * console.log(res.status, await res.json());
 * client.close();
 * ```
 */
export class HttpClient {
  /** The runtime. */
  readonly runtime: Runtime;
  /** @internal */
  readonly limits: { maxHeaderBytes: number; maxHeaderCount: number; maxBodyBytes: number };
  /** @internal */
  readonly maxSocketsPerOrigin: number;
  /** @internal */
  readonly keepAliveTimeout: number;
  /** @internal */
  readonly connectTimeout: number;
  private readonly headersTimeout: number;
  private readonly pools = new Map<string, OriginPool>();
  private isClosed = false;

  /** @param options - see {@link ClientOptions}. */
  constructor(runtime: Runtime, options: ClientOptions = {}) {
    this.runtime = runtime;
    const num = (name: string, v: number | undefined, d: number, min: number): number => {
      if (v === undefined) return d;
      if (typeof v !== 'number' || Number.isNaN(v) || v < min) throw new InvalidArgumentError(name, `must be a number >= ${min}, got ${describeReceived(v)}`);
      return v;
    };
    this.maxSocketsPerOrigin = num('maxSocketsPerOrigin', options.maxSocketsPerOrigin, 16, 1);
    this.keepAliveTimeout = num('keepAliveTimeout', options.keepAliveTimeout, 4000, 1);
    this.connectTimeout = num('connectTimeout', options.connectTimeout, 10_000, 0);
    this.headersTimeout = num('headersTimeout', options.headersTimeout, 30_000, 0);
    this.limits = {
      maxHeaderBytes: num('maxHeaderBytes', options.maxHeaderBytes, 16 * 1024, 64),
      maxHeaderCount: 200,
      maxBodyBytes: num('maxBodyBytes', options.maxBodyBytes, Infinity, 0),
    };
  }

  /** Whether {@link HttpClient.close} was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Open connections (idle and busy) over all origins. */
  get connectionCount(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.idle.length + p.busy.size;
    return n;
  }

  /**
   * Send a request. Resolves when the response head has arrived; read the body from the response.
   * @throws InvalidArgumentError for a URL that is not `http:`; `TimeoutError`; `signal.reason`;
   *   ErrnoError from connect; `HttpParseError` for a malformed response.
   *
   * @example
   * ```ts
   * const res = await client.request('http://127.0.0.1:8080/', { signal: AbortSignal.timeout(1000) });
   * const text = await res.text();
   * ```
   */
  async request(url: string | URL, options: RequestOptions = {}): Promise<ClientResponse> {
    if (this.isClosed) throw new SocketClosedError('the client was closed');
    let target = new URL(url);
    let method = (options.method ?? 'GET').toUpperCase();
    let body = options.body;
    const follow = options.redirect === 'follow';
    const maxRedirects = options.maxRedirects ?? 5;
    let redirects = 0;
    for (;;) {
      const res = await this.send(target, method, options, body, redirects > 0);
      const location = res.header('location');
      if (!follow || !REDIRECTS.has(res.status) || location === undefined) return res;
      if (redirects >= maxRedirects) {
        res.discard();
        throw new FdloopError(ErrorCode.HTTP_PARSE, `too many redirects (more than ${maxRedirects})`);
      }
      res.discard();
      redirects += 1;
      target = new URL(location, target);
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
      } else if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
        throw new InvalidArgumentError('body', 'a streamed body cannot be sent again to follow a 307/308 redirect');
      }
    }
  }

  /** `request(url, { ...options, method: 'GET' })`. */
  get(url: string | URL, options: Omit<RequestOptions, 'method' | 'body'> = {}): Promise<ClientResponse> {
    return this.request(url, { ...options, method: 'GET' });
  }

  /**
   * Ask the server to switch protocols (`Connection: Upgrade`, `Upgrade: <protocol>`, a GET without a body).
   * Resolves when the answer's head has arrived: with the socket when it is `101 Switching Protocols`, else with
   * the response. The socket then belongs to the caller (it is removed from the pool).
   * @throws as {@link HttpClient.request}.
   *
   * @example
   * ```ts
   * const result = await client.upgrade('http://127.0.0.1:8080/chat', {
   *   protocol: 'websocket',
   *   headers: { 'sec-websocket-key': key, 'sec-websocket-version': '13' },
   * });
   * if (result.upgraded) result.socket.handle({ data: (chunk) => decode(chunk) });
   * else console.log('refused', result.response.status);
   * ```
   */
  async upgrade(url: string | URL, options: UpgradeOptions): Promise<UpgradeResult> {
    if (this.isClosed) throw new SocketClosedError('the client was closed');
    const protocol = options?.protocol;
    if (typeof protocol !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z/]+$/.test(protocol)) {
      throw new InvalidArgumentError('protocol', `must be a protocol name (a token, optionally with /version), got ${String(protocol)}`);
    }
    const headers: [string, string][] = [];
    const list = flattenHeaders(options.headers);
    for (let k = 0; k < list.length; k += 2) {
      const lower = (list[k] as string).toLowerCase();
      if (lower !== 'connection' && lower !== 'upgrade') headers.push([list[k] as string, list[k + 1] as string]);
    }
    headers.push(['Connection', 'Upgrade'], ['Upgrade', protocol]);
    const response = await this.send(new URL(url), 'GET', { headers, signal: options.signal, timeout: options.timeout }, undefined, false, true);
    const switched = UPGRADED.get(response);
    if (switched === undefined) return { upgraded: false, response };
    UPGRADED.delete(response);
    return { upgraded: true, response, socket: switched.socket, head: switched.head };
  }

  private async send(url: URL, method: string, options: RequestOptions, body: RequestOptions['body'], redirected: boolean, upgrade = false): Promise<ClientResponse> {
    if (url.protocol !== 'http:') {
      throw new InvalidArgumentError('url', `only http: URLs are supported (HTTPS is not implemented yet), got ${url.protocol}`);
    }
    const signal = options.signal;
    if (signal?.aborted) throw signal.reason;
    let host = url.hostname;
    if (host.startsWith('[')) host = host.slice(1, -1);
    if (isIP(host) === 0) host = host === 'localhost' ? '127.0.0.1' : (await lookup(host)).address;
    const port = url.port === '' ? 80 : Number(url.port);
    const key = `${host}|${port}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new OriginPool(this, host, port);
      this.pools.set(key, pool);
    }
    const timeout = options.timeout ?? this.headersTimeout;
    const head = this.head(method, url, options.headers, body);
    const fixed = body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? bodyBytes(body) : undefined;
    const stream = body !== undefined && fixed === undefined ? (body as AsyncIterable<Uint8Array | string>) : undefined;
    const attempt = async (allowRetry: boolean): Promise<ClientResponse> => {
      const conn = await (pool as OriginPool).acquire(signal);
      return new Promise<ClientResponse>((resolve, reject) => {
        let settled = false;
        const onAbort = (): void => conn.fail(signal?.reason instanceof Error ? signal.reason : new Error(String(signal?.reason)));
        const done = (): void => {
          settled = true;
          signal?.removeEventListener('abort', onAbort);
        };
        const ex: Exchange = {
          method,
          url: url.href,
          redirected,
          resolve: (r) => {
            if (settled) return;
            done();
            // Aborting after the head still fails the body, as long as this exchange owns the connection.
            if (signal !== undefined && !r.body.complete) {
              const bodyAbort = (): void => {
                if (conn.exchange === ex) conn.fail(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
              };
              signal.addEventListener('abort', bodyAbort, { once: true });
              ex.onFinish = () => signal.removeEventListener('abort', bodyAbort);
            }
            resolve(r);
          },
          reject: (e) => {
            if (settled) return;
            done();
            reject(e);
          },
          response: undefined,
          body: undefined,
          timer: undefined,
          gotBytes: false,
          retry: undefined,
          onFinish: undefined,
          upgrade,
          switched: undefined,
        };
        if (timeout > 0) ex.timer = this.runtime.setTimeout(() => conn.fail(new TimeoutError('headers', timeout)), timeout);
        if (allowRetry && stream === undefined) ex.retry = () => attempt(false).then(ex.resolve, ex.reject);
        signal?.addEventListener('abort', onAbort, { once: true });
        conn.exchange = ex;
        const socket = conn.socket;
        try {
          if (fixed !== undefined) {
            socket.cork();
            socket.write(head);
            if (fixed.byteLength > 0) socket.write(fixed);
            socket.uncork();
          } else if (stream !== undefined) {
            socket.write(head);
            void this.pump(conn, stream);
          } else {
            socket.write(head);
          }
        } catch (error) {
          conn.fail(error instanceof Error ? error : new Error(String(error)));
        }
      });
    };
    return attempt(true);
  }

  private async pump(conn: ClientConnection, stream: AsyncIterable<Uint8Array | string>): Promise<void> {
    const socket = conn.socket;
    try {
      for await (const piece of stream) {
        if (socket.closed) return;
        const data = bodyBytes(piece);
        if (data.byteLength === 0) continue;
        socket.cork();
        socket.write(`${data.byteLength.toString(16)}\r\n`);
        socket.write(data);
        const ok = socket.write('\r\n');
        socket.uncork();
        if (!ok) await socket.drained();
      }
      if (!socket.closed) socket.write('0\r\n\r\n');
    } catch (error) {
      conn.fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private head(method: string, url: URL, headers: HeadersInit | undefined, body: RequestOptions['body']): Buffer {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) throw new InvalidArgumentError('method', `must be a token, got ${describeReceived(method)}`);
    const list = flattenHeaders(headers);
    let s = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
    let hasUserAgent = false;
    for (let k = 0; k < list.length; k += 2) {
      const lower = (list[k] as string).toLowerCase();
      if (lower === 'host' || lower === 'content-length' || lower === 'transfer-encoding') continue;
      if (lower === 'user-agent') hasUserAgent = true;
      s += `${list[k]}: ${list[k + 1]}\r\n`;
    }
    if (!hasUserAgent) s += 'User-Agent: fdloop\r\n';
    if (body === undefined) {
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') s += 'Content-Length: 0\r\n';
    } else if (typeof body === 'string') s += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    else if (body instanceof Uint8Array) s += `Content-Length: ${body.byteLength}\r\n`;
    else s += 'Transfer-Encoding: chunked\r\n';
    return Buffer.from(`${s}\r\n`, 'latin1');
  }

  /** Close every pooled connection; requests in flight fail. */
  close(): void {
    this.isClosed = true;
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }
}


