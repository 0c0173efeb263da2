/**
 * `@fdloop/mod-ws`: WebSocket (RFC 6455) on an fdloop runtime, server and client, built on `@fdloop/mod-http`'s
 * Upgrade hooks and `@fdloop/mod-net` sockets.
 *
 * - {@link WebSocketServer}: the opening handshake (key, version, subprotocols, `verifyClient`), with an HTTP
 *   server of its own (`port`), on an existing one (`server`), or fed by {@link WebSocketServer.handleUpgrade}.
 * - {@link connect} → {@link WebSocket}: the client side, with the `Sec-WebSocket-Accept` check.
 * - {@link WebSocket}: messages as events (`ws.on('message', (data, isBinary) => …)`) or pulled
 *   (`for await (const msg of ws)`); masking, fragmentation both ways, ping/pong, the closing handshake with
 *   codes, reasons and a timeout, incremental fail-fast UTF-8 validation, size limits (→ 1009), backpressure.
 * - A peer never decides whether the process lives: every protocol violation, reset or vanished peer closes
 *   only its connection and is reported to a hook (`onClientError`, `onPeerError`) and in the trace.
 *
 * Not implemented: permessage-deflate (no extension is ever negotiated) and `wss:` (no TLS yet).
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { WebSocketServer, connect } from '@fdloop/mod-ws';
 *
 * const rt = createRuntime();
 * const wss = new WebSocketServer(rt, { port: 0 }, (ws) => {
 *   ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })); // echo
 * });
 * const ws = await connect(rt, `ws://127.0.0.1:${wss.port}/`);
 * ws.send('hello');
 * for await (const msg of ws) {
 *   console.log(msg); // hello
 *   ws.close(1000);
 * }
 * await wss.close();
 * await rt.close();
 * ```
 *
 * @packageDocumentation
 */

export { CloseCode, Opcode, isValidCloseCode } from './frame.js';
export {
  WebSocket,
  type CloseInfo,
  type SendOptions,
  type WebSocketData,
  type WebSocketEvents,
  type WebSocketOptions,
} from './websocket.js';
export {
  WebSocketServer,
  type ClientErrorContext,
  type ConnectionHandler,
  type Refusal,
  type WebSocketServerEvents,
  type WebSocketServerOptions,
} from './server.js';
export { connect, type ConnectOptions } from './client.js';
export { WebSocketHandshakeError, WebSocketProtocolError } from '@fdloop/core';
