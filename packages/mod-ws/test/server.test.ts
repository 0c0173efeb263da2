/**
 * The server side: the opening handshake's refusals on the wire, the ways to attach, hooks and tracing,
 * limits, timeouts and shutdown.
 */

import { afterEach, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import {
  InvalidArgumentError,
  SocketClosedError,
  TimeoutError,
  WebSocketHandshakeError,
  createRuntime,
  type Runtime,
} from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { createServer } from '@fdloop/mod-http';
import { WebSocket, WebSocketServer, connect, type ClientErrorContext, type WebSocketServerOptions } from '../src/index.js';
import { closeOf, rawClient, rawExchange, sleep } from './peer.js';

let rt: Runtime;
const runtimeErrors: unknown[] = [];
const traces: string[] = [];
const cleanup: (() => unknown)[] = [];

function runtime(trace = false): Runtime {
  rt = createRuntime({ backend: epoll(), onError: (e) => runtimeErrors.push(e), trace: trace ? { output: (line) => traces.push(line) } : false });
  return rt;
}

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await rt.close();
  runtimeErrors.length = 0;
  traces.length = 0;
});

function echoServer(options: WebSocketServerOptions = {}): { wss: WebSocketServer; faults: [Error, ClientErrorContext][] } {
  const faults: [Error, ClientErrorContext][] = [];
  const wss = new WebSocketServer(rt, { port: 0, onClientError: (e, c) => faults.push([e, c]), ...options }, (ws) => {
    ws.on('message', (d, b) => ws.send(d, { binary: b }));
  });
  cleanup.push(() => wss.close());
  return { wss, faults };
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const request = (port: number, lines: string): string => `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${lines}\r\n`;
const valid = `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`;

describe('handshake', () => {
  it('answers the RFC 6455 example key with its accept value', async () => {
    runtime();
    const { wss } = echoServer();
    const answer = await rawExchange(wss.port, request(wss.port, valid));
    expect(answer).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(answer).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n');
    expect(answer).not.toContain('Sec-WebSocket-Extensions');
  });

  it('refuses malformed handshakes with the right status, reports them, and keeps serving', async () => {
    runtime(true);
    const { wss, faults } = echoServer();
    const p = wss.port;
    const cases: [string, string, RegExp][] = [
      ['no key', 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n', /^HTTP\/1\.1 400 /],
      ['short key', `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n`, /^HTTP\/1\.1 400 /],
      ['no version', `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n`, /^HTTP\/1\.1 400 [^]*Sec-WebSocket-Version: 13/i],
      ['version 8', `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 8\r\n`, /^HTTP\/1\.1 426 [^]*sec-websocket-version: 13/i],
      ['bad subprotocol list', `${valid}Sec-WebSocket-Protocol: a, a\r\n`, /^HTTP\/1\.1 400 /],
      ['subprotocol with a space', `${valid}Sec-WebSocket-Protocol: "quoted"\r\n`, /^HTTP\/1\.1 400 /],
    ];
    for (const [what, lines, pattern] of cases) {
      const answer = await rawExchange(p, request(p, lines));
      expect(answer, what).toMatch(pattern);
      expect(answer, what).toContain('Connection: close');
    }
    expect(faults.map(([e]) => (e as WebSocketHandshakeError).status)).toEqual([400, 400, 400, 426, 400, 400]);
    expect(faults.every(([e, c]) => e instanceof WebSocketHandshakeError && c.req !== undefined && c.remoteAddress?.address === '127.0.0.1')).toBe(true);
    expect(traces.filter((l) => l.includes('[ws] handshake from 127.0.0.1')).length).toBe(6);
    // Plain HTTP gets 426, and the server still takes good handshakes.
    const plain = await fetch(`http://127.0.0.1:${p}/`);
    expect(plain.status).toBe(426);
    expect(plain.headers.get('upgrade')).toBe('websocket');
    const ws = await connect(rt, `ws://127.0.0.1:${p}/`);
    ws.send('ok');
    expect(await ws.read()).toBe('ok');
    expect(runtimeErrors).toEqual([]);
  });

  it('handleUpgrade fed by hand refuses a non-GET with 405', async () => {
    runtime();
    const wss = new WebSocketServer(rt);
    const http = createServer(rt, { upgrade: (req, socket, head) => wss.handleUpgrade(req, socket, head) }, (_q, s) => s.end('x'));
    cleanup.push(() => http.close());
    const answer = await rawExchange(http.port, `OPTIONS / HTTP/1.1\r\nHost: x\r\n${valid}\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 405 [^]*allow: GET/i);
  });

  it('verifyClient: sync and async verdicts, custom refusals; bytes sent during an async check are not lost', async () => {
    runtime();
    const { wss, faults } = echoServer({
      verifyClient: async (req) => {
        await sleep(30);
        if (req.header('origin') === 'https://evil.example') return false;
        if (req.query === 'busy') return { status: 429, message: 'slow down', headers: { 'retry-after': '1' } };
        return true;
      },
    });
    expect(await rawExchange(wss.port, request(wss.port, `${valid}Origin: https://evil.example\r\n`))).toMatch(/^HTTP\/1\.1 403 /);
    expect(await rawExchange(wss.port, `GET /?busy HTTP/1.1\r\nHost: x\r\n${valid}\r\n`)).toMatch(/^HTTP\/1\.1 429 Too Many Requests[^]*retry-after: 1/i);
    const peer = await rawClient(wss.port);
    await peer.send([{ opcode: 1, payload: 'early' }]);
    expect(await peer.until(() => peer.frames.length === 1)).toBe(true);
    expect(peer.frames[0]?.payload.toString()).toBe('early');
    peer.destroy();
    expect(faults).toEqual([]);
  });

  it('attaches to an existing HttpServer: WebSocket requests to its path upgrade, the rest stays HTTP', async () => {
    runtime();
    const http = createServer(rt, { port: 0 }, (req, res) => res.end(`http ${req.path}`));
    cleanup.push(() => http.close());
    const wss = new WebSocketServer(rt, { server: http, path: '/ws' }, (ws) => ws.on('message', (d) => ws.send(d)));
    cleanup.push(() => wss.close());
    expect(wss.port).toBe(http.port);
    expect(await (await fetch(`http://127.0.0.1:${http.port}/page`)).text()).toBe('http /page');
    const ws = await connect(rt, `ws://127.0.0.1:${http.port}/ws`);
    ws.send('via attached');
    expect(await ws.read()).toBe('via attached');
    // A WebSocket request elsewhere goes to the HTTP handler, which answers it as a normal request.
    const error = await connect(rt, `ws://127.0.0.1:${http.port}/other`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketHandshakeError);
    expect((error as WebSocketHandshakeError).status).toBe(200);
  });

  it('maxConnections: one more is answered 503', async () => {
    runtime();
    const { wss } = echoServer({ maxConnections: 2 });
    const a = await connect(rt, `ws://127.0.0.1:${wss.port}/`);
    const b = await connect(rt, `ws://127.0.0.1:${wss.port}/`);
    const error = await connect(rt, `ws://127.0.0.1:${wss.port}/`).catch((e: unknown) => e);
    expect((error as WebSocketHandshakeError).status).toBe(503);
    expect(wss.clients.size).toBe(2);
    a.close(1000);
    b.close(1000);
  });
});

describe('connections', () => {
  it('a connection handler that throws or rejects closes its connection with 1011 and goes to onError', async () => {
    runtime();
    let calls = 0;
    const wss = new WebSocketServer(rt, { port: 0 }, async () => {
      calls += 1;
      if (calls === 1) throw new Error('sync bug');
      await sleep(1);
      throw new Error('async bug');
    });
    cleanup.push(() => wss.close());
    for (const _ of [1, 2]) {
      const c = new WsClient(`ws://127.0.0.1:${wss.port}/`);
      const code = await new Promise<number>((r) => c.once('close', (code: number) => r(code)));
      expect(code).toBe(1011);
    }
    await sleep(20);
    expect(runtimeErrors.map((e) => (e as Error).message)).toEqual(['sync bug', 'async bug']);
  });

  it('messages that arrive before a listener is attached are delivered to it first, in order', async () => {
    runtime();
    const got: string[] = [];
    const wss = new WebSocketServer(rt, { port: 0 }, async (ws) => {
      await sleep(50); // the client's messages are queued meanwhile
      ws.on('message', (d) => got.push(String(d)));
    });
    cleanup.push(() => wss.close());
    const c = new WsClient(`ws://127.0.0.1:${wss.port}/`);
    cleanup.push(() => c.terminate());
    c.on('open', () => ['a', 'b', 'c'].forEach((m) => c.send(m)));
    while (got.length < 3) await sleep(5);
    expect(got).toEqual(['a', 'b', 'c']);
  });

  it('pause() stops message events (TCP backpressure), resume() delivers the rest in order', async () => {
    runtime();
    let server: WebSocket | undefined;
    const got: string[] = [];
    const wss = new WebSocketServer(rt, { port: 0 }, (ws) => {
      server = ws;
      ws.on('message', (d) => {
        got.push(String(d));
        if (got.length === 2) ws.pause();
      });
    });
    cleanup.push(() => wss.close());
    const c = new WsClient(`ws://127.0.0.1:${wss.port}/`);
    cleanup.push(() => c.terminate());
    await new Promise((r) => c.once('open', r));
    for (let i = 0; i < 10; i++) c.send(`m${i}`);
    await sleep(100);
    expect(got).toEqual(['m0', 'm1']);
    expect(server?.isPaused).toBe(true);
    server?.resume();
    while (got.length < 10) await sleep(5);
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
  });

  it('a peer that never answers the close frame is closed after closeTimeout and reported', async () => {
    runtime();
    let server: WebSocket | undefined;
    const { wss, faults } = echoServer({ closeTimeout: 100 });
    wss.on('connection', (ws) => {
      server = ws;
    });
    const peer = await rawClient(wss.port);
    await sleep(10);
    server?.close(1000, 'bye');
    // The raw peer reads the close frame but neither answers nor closes TCP.
    expect(await peer.until(() => peer.closeFrame !== undefined)).toBe(true);
    expect(closeOf(peer.closeFrame as never)).toEqual({ code: 1000, reason: 'bye' });
    const info = await (server as WebSocket).whenClosed();
    expect(info.code).toBe(1006);
    expect(info.error).toBeInstanceOf(TimeoutError);
    expect(faults.map(([e]) => e)).toEqual([info.error]);
    expect(await peer.until(() => peer.closed)).toBe(true);
  });

  it('heartbeat: a peer that stops answering pings is closed (1006, TimeoutError); a live one is kept', async () => {
    runtime();
    const { wss, faults } = echoServer({ heartbeat: 50 });
    const opened: WebSocket[] = [];
    wss.on('connection', (ws) => {
      opened.push(ws);
    });
    const live = new WsClient(`ws://127.0.0.1:${wss.port}/`); // ws answers pings by itself
    cleanup.push(() => live.terminate());
    await new Promise((r) => live.once('open', r));
    const silent = await rawClient(wss.port); // reads pings, never answers anything
    await sleep(10);
    const info = await (opened[1] as WebSocket).whenClosed();
    expect(info.code).toBe(1006);
    expect(info.error).toBeInstanceOf(TimeoutError);
    expect(silent.frames.some((f) => f.opcode === 9)).toBe(true);
    expect(faults).toHaveLength(1);
    await sleep(150);
    expect(opened[0]?.readyState).toBe(WebSocket.OPEN);
    silent.destroy();
  });

  it('send() after close returns false and never throws; misuse throws InvalidArgumentError', async () => {
    runtime();
    let server: WebSocket | undefined;
    const { wss } = echoServer();
    wss.on('connection', (ws) => {
      server = ws;
    });
    const peer = await rawClient(wss.port);
    await sleep(10);
    const ws = server as WebSocket;
    expect(() => ws.send({} as never)).toThrow(InvalidArgumentError);
    expect(() => ws.ping(Buffer.alloc(126))).toThrow(InvalidArgumentError);
    expect(() => ws.close(1005)).toThrow(InvalidArgumentError);
    expect(() => ws.close(1000, 'x'.repeat(124))).toThrow(InvalidArgumentError);
    expect(() => ws.close(undefined, 'reason without code')).toThrow(InvalidArgumentError);
    peer.destroy();
    const info = await ws.whenClosed();
    expect(info.code).toBe(1006);
    expect(info.error).toBeInstanceOf(SocketClosedError);
    expect(ws.send('late')).toBe(false);
    expect(ws.ping()).toBe(false);
    ws.close(1000);
    expect(await ws.read()).toBe(null);
  });

  it("an 'error' listener hears peer faults; without one nothing is thrown", async () => {
    runtime();
    const heard: Error[] = [];
    const { wss } = echoServer();
    wss.on('connection', (ws) => ws.on('error', (e) => heard.push(e)));
    const peer = await rawClient(wss.port);
    await peer.send([{ opcode: 1, payload: 'x', rsv: 1 }]);
    expect(await peer.until(() => peer.closed || peer.closeFrame !== undefined)).toBe(true);
    await sleep(20);
    expect(heard.map((e) => e.message)).toEqual(['reserved bits set (no extension was negotiated)']);
    peer.destroy();
  });

  it('close(): every client gets 1001, the own HTTP server stops, the promise resolves when all are closed', async () => {
    runtime();
    const wss = new WebSocketServer(rt, { port: 0 });
    const clients = await Promise.all([1, 2, 3].map(() => connect(rt, `ws://127.0.0.1:${wss.port}/`)));
    await sleep(10);
    expect(wss.clients.size).toBe(3);
    await wss.close();
    for (const c of clients) expect(await c.whenClosed()).toMatchObject({ code: 1001, reason: 'server shutting down', wasClean: true });
    expect(wss.clients.size).toBe(0);
    await expect(connect(rt, `ws://127.0.0.1:${wss.port}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('traces peer faults with the address and the URL', async () => {
    runtime(true);
    const { wss } = echoServer();
    const peer = await rawClient(wss.port, '/room/7');
    await peer.send([{ opcode: 1, payload: 'unmasked', mask: false }]);
    expect(await peer.until(() => peer.closed)).toBe(true);
    await sleep(10);
    expect(traces.some((l) => /\[ws\] server connection 127\.0\.0\.1:\d+ \/room\/7: unmasked frame from a client/.test(l))).toBe(true);
  });
});
