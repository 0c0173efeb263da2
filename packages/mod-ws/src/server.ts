/**
 * {@link WebSocketServer}: the server side of the opening handshake (RFC 6455 §4.2) on `@fdloop/mod-http`'s
 * Upgrade hook, and the set of open connections.
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { InvalidArgumentError, WebSocketHandshakeError, type Runtime, type SocketAddressInfo } from '@fdloop/core';
import { STATUS_TEXT, createServer, type HttpServer, type ServerRequest } from '@fdloop/mod-http';
import type { Socket } from '@fdloop/mod-net';
import { CloseCode } from './frame.js';
import { acceptFor, hasToken, isToken, isValidKey, tokenList } from './handshake.js';
import { WebSocket, connectionOptions, type WebSocketOptions } from './websocket.js';

/** A refusal from {@link WebSocketServerOptions.verifyClient}: the HTTP status to answer, and why. */
export interface Refusal {
  /** The status (`401`, `403`, `429`…). */
  readonly status: number;
  /** A short text for the body. Defaults to the status's reason phrase. */
  readonly message?: string;
  /** More header fields for the answer (`WWW-Authenticate`, `Retry-After`…). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Where a peer fault reported to {@link WebSocketServerOptions.onClientError} happened. */
export interface ClientErrorContext {
  /** The connection, once the handshake succeeded. */
  readonly ws?: WebSocket;
  /** The upgrade request, when the fault was in the handshake. */
  readonly req?: ServerRequest;
  /** The peer's address, when it is known. */
  readonly remoteAddress?: SocketAddressInfo;
}

/** Options of a {@link WebSocketServer}, plus the connection options every accepted connection gets. */
export interface WebSocketServerOptions extends WebSocketOptions {
  /**
   * Listen on this port with an HTTP server of its own ({@link WebSocketServer.httpServer}), which answers plain
   * HTTP requests with `426 Upgrade Required`. `0` lets the kernel choose ({@link WebSocketServer.port}).
   */
  readonly port?: number;
  /** The address of the server of its own. Defaults to `'127.0.0.1'`. */
  readonly host?: string;
  /**
   * Attach to this HTTP server instead: its WebSocket upgrade requests (to {@link WebSocketServerOptions.path},
   * if given) come here, everything else stays with its request handler. Without `port` and `server`, feed
   * requests in yourself with {@link WebSocketServer.handleUpgrade}.
   */
  readonly server?: HttpServer;
  /** Accept connections only for this URL path (`'/chat'`; the query is ignored). Defaults to any path. */
  readonly path?: string;
  /**
   * The subprotocols this server speaks, most preferred first (the first one the client also offers is chosen),
   * or a function that picks one of the client's offers (or `undefined` for none). Without a match the
   * connection opens without a subprotocol, as RFC 6455 §4.2.2 allows; refuse in `verifyClient` if you need one.
   */
  readonly protocols?: readonly string[] | ((offered: readonly string[], req: ServerRequest) => string | undefined);
  /**
   * Decide whether to accept a connection (check `Origin`, a token…), after the request was found valid:
   * `true` accepts, `false` answers 403, a {@link Refusal} answers its status. May be async.
   */
  readonly verifyClient?: (req: ServerRequest) => boolean | Refusal | Promise<boolean | Refusal>;
  /** Most open connections; more are answered `503 Service Unavailable`. Defaults to `Infinity`. */
  readonly maxConnections?: number;
  /**
   * Told about every fault of a peer: a malformed upgrade request (answered 400, 405 or 426), a protocol
   * violation, a reset, a peer that vanished mid-frame or without a close frame, a closing handshake or heartbeat
   * that timed out. Such faults close only their connection, whether this hook is set or not; they are traced
   * (`FDLOOP_TRACE=1`) either way. A throw from the hook is a bug of the program and is rethrown.
   */
  readonly onClientError?: (error: Error, context: ClientErrorContext) => void;
}

/**
 * Called for each new connection (see {@link WebSocketServer}). What it returns is ignored unless it is a promise:
 * a rejection closes the connection with 1011 and is rethrown as a bug of the program.
 */
export type ConnectionHandler = (ws: WebSocket, req: ServerRequest) => unknown;

/** The events of a {@link WebSocketServer}. */
export interface WebSocketServerEvents {
  /** A connection opened: the WebSocket and the request that asked for it. */
  connection: [ws: WebSocket, req: ServerRequest];
}

/** Time a refused handshake waits for the client's end of stream before its socket is closed anyway. */
const LINGER_MS = 2000;

/**
 * A WebSocket server: answers opening handshakes and hands out open {@link WebSocket}s, with a server of its own
 * (`port`), on an existing `@fdloop/mod-http` server (`server`), or fed by hand ({@link WebSocketServer.handleUpgrade}).
 * New connections go to the `onConnection` argument and the `connection` event.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { WebSocketServer } from '@fdloop/mod-ws';
 *
 * const rt = createRuntime();
 * const wss = new WebSocketServer(rt, { port: 8080 }, (ws) => {
 *   ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
 * });
 * ```
 */
export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  /** The runtime. */
  readonly runtime: Runtime;
  /** The open connections. */
  readonly clients = new Set<WebSocket>();
  /** The HTTP server the requests come from: its own (`port`), the one given (`server`), or `undefined`. */
  readonly httpServer: HttpServer | undefined;
  private readonly ownsServer: boolean;
  private readonly options: WebSocketServerOptions;
  private readonly connection: ReturnType<typeof connectionOptions>;
  private readonly onConnection: ConnectionHandler | undefined;
  private readonly maxConnections: number;
  private isClosing = false;

  /**
   * @param options - see {@link WebSocketServerOptions}; the connection options apply to every connection.
   * @param onConnection - called with each new connection (a rejected promise closes it with 1011 and is
   *   rethrown, as a bug of the program).
   */
  constructor(runtime: Runtime, options: WebSocketServerOptions = {}, onConnection?: ConnectionHandler) {
    super();
    if (onConnection !== undefined && typeof onConnection !== 'function') throw new InvalidArgumentError('onConnection', 'must be a function');
    if (options.server !== undefined && options.port !== undefined) throw new InvalidArgumentError('options', 'give either port or server, not both');
    const maxConnections = options.maxConnections ?? Infinity;
    if (typeof maxConnections !== 'number' || !(maxConnections >= 1)) throw new InvalidArgumentError('maxConnections', `must be a number >= 1, got ${String(maxConnections)}`);
    if (options.path !== undefined && (typeof options.path !== 'string' || !options.path.startsWith('/'))) {
      throw new InvalidArgumentError('path', `must be a URL path starting with '/', got ${String(options.path)}`);
    }
    const protocols = options.protocols;
    if (Array.isArray(protocols)) for (const p of protocols as readonly string[]) if (typeof p !== 'string' || !isToken(p)) throw new InvalidArgumentError('protocols', `${String(p)} is not a valid subprotocol name`);
    this.runtime = runtime;
    this.options = options;
    this.connection = connectionOptions(options);
    this.onConnection = onConnection;
    this.maxConnections = maxConnections;
    const upgrade = (req: ServerRequest, socket: Socket, head: Buffer): void => this.handleUpgrade(req, socket, head);
    const should = (req: ServerRequest): boolean => this.shouldHandle(req);
    if (options.server !== undefined) {
      this.httpServer = options.server;
      this.ownsServer = false;
      options.server.onUpgrade(upgrade, should);
    } else if (options.port !== undefined || options.host !== undefined) {
      this.ownsServer = true;
      this.httpServer = createServer(runtime, { host: options.host, port: options.port ?? 0, upgrade, shouldUpgrade: should }, (req, res) => {
        if (options.path !== undefined && req.path !== options.path) res.status(404).end('404 Not Found\n');
        else res.status(426).header('upgrade', 'websocket').end('426 Upgrade Required: this is a WebSocket endpoint\n');
      });
    } else {
      this.httpServer = undefined;
      this.ownsServer = false;
    }
  }

  /** The port of the HTTP server (own or given), or `0` when there is none. */
  get port(): number {
    return this.httpServer?.port ?? 0;
  }

  /**
   * Whether `req` is a WebSocket upgrade request this server takes (`Upgrade: websocket`, and the path when
   * {@link WebSocketServerOptions.path} is set).
   */
  shouldHandle(req: ServerRequest): boolean {
    if (!hasToken(req.header('upgrade'), 'websocket')) return false;
    return this.options.path === undefined || req.path === this.options.path;
  }

  /**
   * Answer the opening handshake of `req` on `socket` (the arguments of mod-http's upgrade handler): a valid
   * request that `verifyClient` accepts gets `101 Switching Protocols` and becomes a {@link WebSocket}; anything
   * else is answered with an HTTP error and the socket closed. Never throws because of the request.
   *
   * @example
   * ```ts
   * const wss = new WebSocketServer(rt); // no server of its own
   * const http = createServer(rt, { port: 8080, upgrade: (req, socket, head) => wss.handleUpgrade(req, socket, head) }, handler);
   * ```
   */
  handleUpgrade(req: ServerRequest, socket: Socket, head: Buffer): void {
    if (socket.closed) return;
    if (this.isClosing) {
      this.refuse(socket, req, 503, 'the server is shutting down', undefined, false);
      return;
    }
    const problem = this.check(req);
    if (problem !== undefined) {
      this.refuse(socket, req, problem.status, problem.message ?? '', problem.headers, true);
      return;
    }
    if (this.clients.size >= this.maxConnections) {
      this.refuse(socket, req, 503, 'too many connections', undefined, false);
      return;
    }
    const offered = tokenList(req.header('sec-websocket-protocol') ?? '', true) ?? [];
    const protocol = this.selectProtocol(offered, req);
    const verify = this.options.verifyClient;
    if (verify === undefined) {
      this.accept(req, socket, head, protocol);
      return;
    }
    const verdict = verify(req);
    if (verdict !== null && typeof verdict === 'object' && typeof (verdict as Promise<boolean | Refusal>).then === 'function') {
      // Bytes arriving meanwhile are buffered by the socket (nobody handles it yet) and parsed after the 101.
      (verdict as Promise<boolean | Refusal>).then(
        (v) => this.decide(v, req, socket, head, protocol),
        (error: unknown) => {
          socket.destroy(error instanceof Error ? error : new Error(String(error)));
          this.runtime.setImmediate(() => {
            throw error;
          });
        },
      );
      return;
    }
    this.decide(verdict as boolean | Refusal, req, socket, head, protocol);
  }

  private decide(verdict: boolean | Refusal, req: ServerRequest, socket: Socket, head: Buffer, protocol: string): void {
    if (socket.closed) return;
    if (verdict === true) {
      if (this.isClosing) this.refuse(socket, req, 503, 'the server is shutting down', undefined, false);
      else this.accept(req, socket, head, protocol);
      return;
    }
    const refusal: Refusal = verdict === false || verdict === undefined || verdict === null ? { status: 403 } : verdict;
    if (!Number.isInteger(refusal.status) || refusal.status < 400 || refusal.status > 599) {
      throw new InvalidArgumentError('verifyClient', `a refusal needs a status from 400 to 599, got ${String(refusal.status)}`);
    }
    this.refuse(socket, req, refusal.status, refusal.message ?? '', refusal.headers, false);
  }

  /** The reason `req` is not a valid opening handshake (RFC 6455 §4.2.1), or `undefined`. */
  private check(req: ServerRequest): Refusal | undefined {
    if (req.method !== 'GET') return { status: 405, message: 'a WebSocket handshake must be a GET', headers: { allow: 'GET' } };
    if (req.httpVersion !== '1.1') return { status: 400, message: 'a WebSocket handshake needs HTTP/1.1' };
    if (!hasToken(req.header('upgrade'), 'websocket')) return { status: 400, message: 'the Upgrade field must name websocket' };
    if (!hasToken(req.header('connection'), 'upgrade')) return { status: 400, message: 'the Connection field must contain upgrade' };
    if (!isValidKey(req.header('sec-websocket-key'))) return { status: 400, message: 'missing or invalid Sec-WebSocket-Key' };
    const version = req.header('sec-websocket-version');
    if (version === undefined) return { status: 400, message: 'missing Sec-WebSocket-Version', headers: { 'sec-websocket-version': '13' } };
    if (version.trim() !== '13') return { status: 426, message: `unsupported Sec-WebSocket-Version ${version}`, headers: { 'sec-websocket-version': '13' } };
    const protocols = req.header('sec-websocket-protocol');
    if (protocols !== undefined && tokenList(protocols, true) === undefined) return { status: 400, message: 'invalid Sec-WebSocket-Protocol' };
    if (this.options.path !== undefined && req.path !== this.options.path) return { status: 400, message: `no WebSocket endpoint at ${req.path}` };
    return undefined;
  }

  private selectProtocol(offered: readonly string[], req: ServerRequest): string {
    const protocols = this.options.protocols;
    if (protocols === undefined || offered.length === 0) return '';
    if (typeof protocols === 'function') {
      const chosen = protocols(offered, req);
      if (chosen === undefined) return '';
      if (!offered.includes(chosen)) throw new InvalidArgumentError('protocols', `chose ${String(chosen)}, which the client did not offer`);
      return chosen;
    }
    for (const p of protocols) if (offered.includes(p)) return p;
    return '';
  }

  private accept(req: ServerRequest, socket: Socket, head: Buffer, protocol: string): void {
    const key = req.header('sec-websocket-key') as string;
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n` +
        (protocol !== '' ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
        '\r\n',
    );
    const hook = this.options.onClientError;
    const ws = new WebSocket(
      this.runtime,
      socket,
      head,
      { isServer: true, protocol, url: req.url, onPeerError: hook === undefined ? undefined : (error, w) => hook(error, { ws: w, remoteAddress: w.remoteAddress() }) },
      this.connection,
    );
    this.clients.add(ws);
    void ws.whenClosed().then(() => this.clients.delete(ws));
    const handler = this.onConnection;
    if (handler !== undefined) {
      let result: unknown;
      try {
        result = handler(ws, req);
      } catch (error) {
        this.handlerFailed(ws, error);
        return;
      }
      if (result instanceof Promise) result.then(undefined, (error: unknown) => this.handlerFailed(ws, error));
    }
    this.emit('connection', ws, req);
  }

  private handlerFailed(ws: WebSocket, error: unknown): void {
    if (ws.readyState === WebSocket.OPEN) ws.close(CloseCode.INTERNAL_ERROR);
    // The program's own bug: reported like any exception from a callback (the runtime's onError, by default
    // rethrown on the next tick).
    this.runtime.setImmediate(() => {
      throw error;
    });
  }

  /** Answer `status` and close (after a bounded wait for the client's end, so it reads the answer). */
  private refuse(socket: Socket, req: ServerRequest, status: number, message: string, headers: Refusal['headers'], peerFault: boolean): void {
    const reason = STATUS_TEXT[status] ?? 'Error';
    const text = `${status} ${reason}${message !== '' ? `: ${message}` : ''}\n`;
    let extra = '';
    if (headers !== undefined) for (const [name, value] of Object.entries(headers)) extra += `${name}: ${value}\r\n`;
    const rt = this.runtime;
    let remoteAddress: SocketAddressInfo | undefined;
    try {
      remoteAddress = socket.remoteAddress();
    } catch {
      remoteAddress = undefined;
    }
    if (rt._tracing) {
      rt._trace(`[ws] handshake from ${remoteAddress === undefined ? '?' : `${remoteAddress.address}:${remoteAddress.port}`} ${req.url} refused: ${status} ${message}`);
    }
    // Input is discarded until the client closes, within a bounded time.
    const linger = rt.setTimeout(() => socket.close(), LINGER_MS);
    linger.unref();
    socket.handle({ data: () => undefined, end: () => socket.close(), close: () => linger.cancel() });
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extra}\r\n${text}`,
      );
    }
    socket.end();
    if (peerFault) this.options.onClientError?.(new WebSocketHandshakeError(status, `refused a WebSocket handshake: ${message}`), { req, remoteAddress });
  }

  /**
   * Stop accepting connections, close every open one with `code` (default 1001, going away) and resolve when
   * they have all closed (each within its `closeTimeout`). A server of its own closes too; a given one is left
   * open (its WebSocket requests are then answered 503).
   */
  async close(code: number = CloseCode.GOING_AWAY, reason = 'server shutting down'): Promise<void> {
    this.isClosing = true;
    const closing: Promise<unknown>[] = [];
    if (this.ownsServer && this.httpServer !== undefined) closing.push(this.httpServer.close());
    for (const ws of [...this.clients]) {
      ws.close(code, reason);
      closing.push(ws.whenClosed());
    }
    await Promise.all(closing);
  }
}
