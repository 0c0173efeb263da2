/**
 * {@link connect}: the client side of the opening handshake (RFC 6455 §4.1) on `@fdloop/mod-http`'s
 * {@link HttpClient.upgrade}.
 *
 * @module
 */

import { InvalidArgumentError, TimeoutError, WebSocketHandshakeError, type Runtime } from '@fdloop/core';
import { HttpClient, type HeadersInit } from '@fdloop/mod-http';
import { acceptFor, hasToken, isToken, newKey } from './handshake.js';
import { WebSocket, connectionOptions, type WebSocketOptions } from './websocket.js';

/** Options of {@link connect}, plus the connection options of the new connection. */
export interface ConnectOptions extends WebSocketOptions {
  /** Subprotocols to offer (`Sec-WebSocket-Protocol`), most preferred first; the server picks one or none. */
  readonly protocols?: string | readonly string[];
  /** The `Origin` field (browsers send one; servers may check it). */
  readonly origin?: string;
  /** More header fields for the upgrade request (`Authorization`, cookies…). */
  readonly headers?: HeadersInit;
  /** Abort connecting and the handshake; the promise rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Time allowed for connecting and the whole handshake. Defaults to `10000` ms. */
  readonly timeout?: number;
  /** The HTTP client to connect with (its limits and pool); defaults to a private one, closed afterwards. */
  readonly client?: HttpClient;
  /**
   * Told about every fault of the server on this connection (a protocol violation, a reset, a vanished peer, a
   * timed-out closing handshake). The connection closes either way; the fault is traced too.
   */
  readonly onPeerError?: (error: Error, ws: WebSocket) => void;
}

/**
 * Open a WebSocket connection to `url` (`ws:`; `http:` works too). Resolves when the server has accepted the
 * handshake. `wss:` is not supported yet (this version of fdloop has no TLS).
 * @throws WebSocketHandshakeError when the server answers anything but a valid `101 Switching Protocols`
 *   (`status` tells what it answered); `ErrnoError` from connecting (`ECONNREFUSED`); `TimeoutError` after
 *   `timeout`; `signal.reason` when aborted; `InvalidArgumentError` for a bad URL or option.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { connect } from '@fdloop/mod-ws';
 *
 * const rt = createRuntime();
 * const ws = await connect(rt, 'ws://127.0.0.1:8080/chat', { protocols: ['chat.v1'] });
 * ws.send('hello');
 * for await (const msg of ws) console.log(msg);
 * ```
 */
export async function connect(runtime: Runtime, url: string | URL, options: ConnectOptions = {}): Promise<WebSocket> {
  const target = new URL(url);
  if (target.protocol === 'wss:' || target.protocol === 'https:') {
    throw new InvalidArgumentError('url', `${target.protocol} (WebSocket over TLS) is not supported yet: this version of fdloop has no TLS`);
  }
  if (target.protocol !== 'ws:' && target.protocol !== 'http:') throw new InvalidArgumentError('url', `must be a ws: URL, got ${target.protocol}`);
  if (target.hash !== '') throw new InvalidArgumentError('url', 'a WebSocket URL must not have a fragment (RFC 6455 §3)');
  const offered = typeof options.protocols === 'string' ? [options.protocols] : [...(options.protocols ?? [])];
  for (const p of offered) {
    if (typeof p !== 'string' || !isToken(p)) throw new InvalidArgumentError('protocols', `${String(p)} is not a valid subprotocol name`);
  }
  if (new Set(offered).size !== offered.length) throw new InvalidArgumentError('protocols', 'offers a subprotocol twice');
  const connection = connectionOptions(options);
  const timeout = options.timeout ?? 10_000;
  if (typeof timeout !== 'number' || !(timeout >= 0)) throw new InvalidArgumentError('timeout', `must be a number of milliseconds >= 0, got ${String(timeout)}`);
  const signal = options.signal;
  if (signal?.aborted) throw signal.reason;

  const key = newKey();
  const headers: [string, string][] = [];
  if (options.headers !== undefined) {
    const entries = Array.isArray(options.headers)
      ? (options.headers as readonly (readonly [string, string])[])
      : Object.entries(options.headers as Record<string, string | number | readonly string[]>).flatMap(([n, v]) =>
          Array.isArray(v) ? (v as readonly string[]).map((x) => [n, x] as const) : [[n, String(v)] as const],
        );
    for (const [name, value] of entries) if (!name.toLowerCase().startsWith('sec-websocket-')) headers.push([name, value]);
  }
  headers.push(['Sec-WebSocket-Key', key], ['Sec-WebSocket-Version', '13']);
  if (offered.length > 0) headers.push(['Sec-WebSocket-Protocol', offered.join(', ')]);
  if (options.origin !== undefined) headers.push(['Origin', options.origin]);

  // One deadline for connecting and the handshake together, on the runtime's timers.
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = timeout > 0 ? runtime.setTimeout(() => controller.abort(new TimeoutError('WebSocket handshake', timeout)), timeout) : undefined;
  const http = options.client ?? new HttpClient(runtime, { connectTimeout: 0, headersTimeout: 0 });
  const httpUrl = new URL(target.href);
  httpUrl.protocol = 'http:';
  try {
    const result = await http.upgrade(httpUrl, { protocol: 'websocket', headers, signal: controller.signal, timeout: 0 });
    const res = result.response;
    if (!result.upgraded) {
      res.discard();
      throw new WebSocketHandshakeError(res.status, `expected 101 Switching Protocols, the server answered ${res.status} ${res.statusText}`);
    }
    const socket = result.socket;
    const fail = (message: string): never => {
      socket.destroy();
      throw new WebSocketHandshakeError(101, message);
    };
    if (!hasToken(res.header('upgrade'), 'websocket')) fail('the 101 answer does not name websocket in Upgrade');
    if (!hasToken(res.header('connection'), 'upgrade')) fail('the 101 answer has no Connection: upgrade');
    if (res.header('sec-websocket-accept') !== acceptFor(key)) fail('the 101 answer has a wrong Sec-WebSocket-Accept');
    if (res.header('sec-websocket-extensions') !== undefined) fail('the server chose an extension that was not offered');
    const protocol = res.header('sec-websocket-protocol') ?? '';
    if (protocol !== '' && !offered.includes(protocol)) fail(`the server chose subprotocol ${protocol}, which was not offered`);
    return new WebSocket(runtime, socket, result.head, { isServer: false, protocol, url: target.href, onPeerError: options.onPeerError }, connection);
  } finally {
    timer?.cancel();
    signal?.removeEventListener('abort', onAbort);
    if (options.client === undefined) http.close();
  }
}
