/**
 * `@fdloop/mod-http/testing`: the HTTP conformance suite for a backend. It checks, in one call, that
 * `@fdloop/mod-http`'s server and client work over a backend's `Backend.net`: keep-alive GET, HEAD and JSON through
 * our client; a streamed chunked upload from our client and from `node:http`, checksummed; a streamed download with
 * backpressure, checksummed by `node:http`; pipelining in order with a malformed request answered 400 and the
 * server still serving; our client against a `node:http` server; graceful close; and a client request aborted with
 * an `AbortSignal`. Peers are real (`node:http`, `node:net`) on 127.0.0.1, and the checks use `node:assert`, so it
 * runs under vitest, `node:test`, mocha or jest. It complements `@fdloop/mod-net/testing` (the socket layer) and
 * the core conformance suite (the poller).
 *
 * @example
 * ```ts
 * // test/http.test.ts of a backend package
 * import { describe, it } from 'vitest';
 * import { runHttpSuite } from '@fdloop/mod-http/testing';
 * import { epoll } from '@fdloop/backend-epoll';
 *
 * runHttpSuite({ backend: () => epoll(), describe, it });
 * ```
 *
 * @packageDocumentation
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as nodeNet from 'node:net';
import { createRuntime, type Backend, type Runtime } from '@fdloop/core';
import { createServer, HttpClient, type HttpServer, type RequestHandler } from './index.js';

/** A `describe` function: vitest's, `node:test`'s, mocha's… */
export type HttpSuiteDescribeFn = (name: string, body: () => void) => unknown;
/** An `it` function: vitest's, `node:test`'s, mocha's… */
export type HttpSuiteItFn = (name: string, body: () => Promise<void> | void, timeout?: number) => unknown;

/** Options of {@link runHttpSuite}. */
export interface HttpSuiteOptions {
  /** Creates a fresh backend for each test; the suite runs mod-http on a runtime over it. */
  readonly backend: () => Backend;
  /** The test framework's `describe`. */
  readonly describe: HttpSuiteDescribeFn;
  /** The test framework's `it`. Called as `it(name, body, timeout)`. */
  readonly it: HttpSuiteItFn;
  /** A label for the suite's `describe`. Defaults to `` `http: @fdloop/mod-http on ${backend().name}` ``. */
  readonly name?: string;
  /** The per-test timeout in milliseconds, passed as `it`'s third argument. Defaults to `20000`. */
  readonly timeout?: number;
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** A runtime over a fresh backend for one test, closed after it (also when it fails). */
async function withRuntime(backend: () => Backend, body: (rt: Runtime) => Promise<void>): Promise<void> {
  const rt = createRuntime({ backend: backend() });
  try {
    await body(rt);
  } finally {
    await rt.close();
  }
}

/** Sends raw bytes on a fresh `node:net` connection and reads until the server closes it. */
function rawExchange(port: number, data: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = nodeNet.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => resolve({ text, closed: true }));
    socket.on('error', reject);
    socket.write(Buffer.from(data, 'latin1'));
  });
}

/** One `node:http` request; resolves with the response and its whole body. */
function nodeRequest(options: http.RequestOptions, body?: readonly Buffer[]): Promise<{ res: http.IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const part of body ?? []) req.write(part);
    req.end();
  });
}

/**
 * Registers the HTTP conformance suite with the given test framework. Each test makes its own runtime over a fresh
 * backend from `options.backend` and closes it afterwards.
 *
 * @param options - The backend factory and the test framework's functions.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { runHttpSuite } from '@fdloop/mod-http/testing';
 * import { kqueue } from '@fdloop/backend-kqueue';
 *
 * runHttpSuite({ backend: () => kqueue(), describe, it, timeout: 30_000 });
 * ```
 */
export function runHttpSuite(options: HttpSuiteOptions): void {
  const { backend, describe, it } = options;
  const timeout = options.timeout ?? 20_000;
  const name = options.name ?? `http: @fdloop/mod-http on ${backend().name}`;
  const serve = (rt: Runtime, handler: RequestHandler): HttpServer => createServer(rt, { host: '127.0.0.1', port: 0 }, handler);

  describe(name, () => {
    it(
      'keep-alive GET, HEAD and JSON through our client, on one connection',
      () =>
        withRuntime(backend, async (rt) => {
          const server = serve(rt, (req, res) => {
            if (req.path === '/json') res.json({ method: req.method, path: req.path, query: req.query });
            else res.end(`Hello ${req.path}`);
          });
          const client = new HttpClient(rt);
          try {
            const base = `http://127.0.0.1:${server.port}`;
            for (const path of ['/a', '/b', '/c']) {
              const res = await client.get(`${base}${path}`);
              assert.equal(res.status, 200);
              assert.equal(await res.text(), `Hello ${path}`);
            }
            assert.equal(server.connectionCount, 1, 'three GETs share one keep-alive connection');
            const head = await client.request(`${base}/a`, { method: 'HEAD' });
            assert.equal(head.status, 200);
            assert.equal(head.header('content-length'), String('Hello /a'.length));
            assert.equal(await head.text(), '');
            const json = await client.get(`${base}/json?x=1`);
            assert.match(json.header('content-type') ?? '', /^application\/json/);
            assert.deepEqual(await json.json(), { method: 'GET', path: '/json', query: 'x=1' });
            assert.equal(server.connectionCount, 1);
          } finally {
            client.close();
            await server.close();
          }
        }),
      timeout,
    );

    it(
      'a streamed chunked upload from our client and from node:http arrives whole (sha-256)',
      () =>
        withRuntime(backend, async (rt) => {
          const server = serve(rt, async (req, res) => {
            const hash = createHash('sha256');
            let n = 0;
            for await (const chunk of req.body) {
              hash.update(chunk);
              n += chunk.length;
            }
            res.json({ n, sha: hash.digest('hex'), te: req.header('transfer-encoding') ?? null });
          });
          const client = new HttpClient(rt);
          try {
            const parts = Array.from({ length: 40 }, (_, i) => Buffer.alloc(25_000, i));
            async function* body(): AsyncGenerator<Buffer> {
              for (const part of parts) yield part;
            }
            const up = await client.request(`http://127.0.0.1:${server.port}/up`, { method: 'POST', body: body() });
            assert.deepEqual(await up.json(), { n: 1_000_000, sha: sha256(Buffer.concat(parts)), te: 'chunked' });

            const agent = new http.Agent({ keepAlive: true });
            try {
              const viaNode = await nodeRequest({ port: server.port, method: 'POST', path: '/n', agent }, parts.slice(0, 8));
              assert.equal(viaNode.res.statusCode, 200);
              assert.deepEqual(JSON.parse(viaNode.body.toString()), {
                n: 200_000,
                sha: sha256(Buffer.concat(parts.slice(0, 8))),
                te: 'chunked',
              });
            } finally {
              agent.destroy();
            }
          } finally {
            client.close();
            await server.close();
          }
        }),
      timeout,
    );

    it(
      'a 4 MiB streamed download with backpressure reaches node:http whole (sha-256)',
      () =>
        withRuntime(backend, async (rt) => {
          const blocks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, (i * 7) & 0xff));
          let waitedForDrain = 0;
          const server = serve(rt, async (_req, res) => {
            res.header('content-type', 'application/octet-stream');
            for (const block of blocks) {
              if (!res.write(block)) {
                waitedForDrain++;
                await res.drained();
              }
            }
            res.end();
          });
          try {
            const { res, body } = await nodeRequest({ port: server.port, path: '/big' });
            assert.equal(res.statusCode, 200);
            assert.equal(res.headers['transfer-encoding'], 'chunked');
            assert.equal(body.length, 4 * 1024 * 1024);
            assert.equal(sha256(body), sha256(Buffer.concat(blocks)));
            assert.ok(waitedForDrain > 0, 'a 4 MiB body exceeds the socket buffers, so write() reported backpressure');
          } finally {
            await server.close();
          }
        }),
      timeout,
    );

    it(
      'pipelined requests are answered in order; a malformed one gets 400 and a close; the server keeps serving',
      () =>
        withRuntime(backend, async (rt) => {
          const server = serve(rt, async (req, res) => {
            if (req.path === '/slow') await rt.sleep(10);
            res.end(req.path);
          });
          try {
            const pipelined = await rawExchange(
              server.port,
              'GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\n' +
                'POST /smuggle HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
            );
            assert.ok(pipelined.closed);
            assert.deepEqual(
              [...pipelined.text.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]),
              ['200', '200', '400'],
            );
            assert.ok(pipelined.text.indexOf('/slow') < pipelined.text.indexOf('/fast'), pipelined.text);
            assert.ok(!pipelined.text.includes('/smuggle'), 'the refused request never reached the handler');
            const after = await nodeRequest({ port: server.port, path: '/after' });
            assert.equal(after.body.toString(), '/after');
          } finally {
            await server.close();
          }
        }),
      timeout,
    );

    it(
      'our client against a node:http server: a chunked body arrives whole, JSON parses, a POST body is sent',
      () =>
        withRuntime(backend, async (rt) => {
          const peer = http.createServer((req, res) => {
            if (req.url === '/chunked') {
              res.setHeader('content-type', 'text/plain');
              for (let i = 0; i < 5; i++) res.write(`part${i};`);
              res.end();
              return;
            }
            const chunks: Buffer[] = [];
            req.on('data', (chunk: Buffer) => chunks.push(chunk));
            req.on('end', () => {
              res.setHeader('content-type', 'application/json');
              res.end(JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString() }));
            });
          });
          await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
          const client = new HttpClient(rt);
          try {
            const base = `http://127.0.0.1:${(peer.address() as nodeNet.AddressInfo).port}`;
            const chunked = await client.get(`${base}/chunked`);
            assert.equal(chunked.header('transfer-encoding'), 'chunked');
            assert.equal(await chunked.text(), 'part0;part1;part2;part3;part4;');
            const posted = await client.request(`${base}/echo`, { method: 'POST', body: 'ping' });
            assert.equal(posted.status, 200);
            assert.deepEqual(await posted.json(), { method: 'POST', body: 'ping' });
          } finally {
            client.close();
            peer.closeAllConnections();
            await new Promise((resolve) => peer.close(resolve));
          }
        }),
      timeout,
    );

    it(
      'graceful close: a request in flight finishes with Connection: close; new connections are refused',
      () =>
        withRuntime(backend, async (rt) => {
          let release: () => void = () => {};
          const gate = new Promise<void>((resolve) => (release = resolve));
          let entered: () => void = () => {};
          const inHandler = new Promise<void>((resolve) => (entered = resolve));
          const server = serve(rt, async (_req, res) => {
            entered();
            await gate;
            res.end('finished');
          });
          const port = server.port;
          const inflight = rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
          await inHandler;
          const closing = server.close();
          await assert.rejects(rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'), { code: 'ECONNREFUSED' });
          release();
          const done = await inflight;
          assert.match(done.text, /^HTTP\/1\.1 200 /);
          assert.ok(/\r\nconnection: close\r\n/i.test(done.text), done.text);
          assert.ok(done.text.endsWith('finished'), done.text);
          await closing;
          assert.equal(server.connectionCount, 0);
        }),
      timeout,
    );

    it(
      'a client request aborted with an AbortSignal rejects with its reason; the server still serves',
      () =>
        withRuntime(backend, async (rt) => {
          let release: () => void = () => {};
          const gate = new Promise<void>((resolve) => (release = resolve));
          const server = serve(rt, async (req, res) => {
            if (req.path === '/hang') await gate;
            res.end(req.path);
          });
          const client = new HttpClient(rt);
          try {
            const base = `http://127.0.0.1:${server.port}`;
            const controller = new AbortController();
            const pending = client.get(`${base}/hang`, { signal: controller.signal });
            setTimeout(() => controller.abort(new Error('user abort')), 20);
            await assert.rejects(pending, /user abort/);
            release();
            const next = await client.get(`${base}/next`);
            assert.equal(await next.text(), '/next');
          } finally {
            release();
            client.close();
            await server.close();
          }
        }),
      timeout,
    );
  });
}
