/**
 * `@fdloop/mod-http`: an HTTP/1.1 server and client on fdloop sockets (`@fdloop/mod-net`), with a strict parser
 * of its own. Plain HTTP only: HTTPS is not implemented.
 *
 * - {@link createServer} → {@link HttpServer}: keep-alive, pipelining, chunked bodies both ways, streaming,
 *   `100-continue`, HEAD, trailers, limits (431/413), timeouts against slowloris (408), maximum connections,
 *   request-smuggling refusals (400 and close), graceful {@link HttpServer.close}, `reusePort` for one server per
 *   worker thread.
 * - {@link HttpClient}: a keep-alive pool per origin, streamed or whole bodies, timeouts, `AbortSignal`,
 *   opt-in redirects; a {@link ClientResponse} with status, headers and a body as stream, text, JSON or bytes.
 * - {@link HttpParser}: the incremental RFC 9112 parser both use.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { epoll } from '@fdloop/backend-epoll';
 * import { createServer, HttpClient } from '@fdloop/mod-http';
 *
 * const rt = createRuntime({ backend: epoll() });
 * const server = createServer(rt, { port: 0 }, async (req, res) => {
 *   if (req.method === 'POST') res.json({ got: await req.text() });
 *   else res.end('Hello World');
 * });
 * const client = new HttpClient(rt);
 * const res = await client.request(`http://127.0.0.1:${server.port}/`);
 * console.log(res.status, await res.text()); // 200 Hello World
 * client.close();
 * await server.close();
 * ```
 *
 * @packageDocumentation
 */

export { Body } from './body.js';
export { STATUS_TEXT, type BodyInit, type HeadersInit } from './common.js';
export { HttpParser, findHeader, headersObject, type MessageHead, type ParserHandler, type ParserLimits } from './parser.js';
export {
  HttpServer,
  ServerRequest,
  ServerResponse,
  createServer,
  type RequestHandler,
  type ServerOptions,
  type UpgradeHandler,
} from './server.js';
export { ClientResponse, HttpClient, type ClientOptions, type RequestOptions, type UpgradeOptions, type UpgradeResult } from './client.js';
