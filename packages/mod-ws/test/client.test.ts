/**
 * The client side of the handshake against servers that answer wrongly (a raw server on node:net), plus
 * connecting errors, timeouts, aborts and the request it sends.
 */

import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrnoError, InvalidArgumentError, TimeoutError, WebSocketHandshakeError, createRuntime, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { HttpClient } from '@fdloop/mod-http';
import { connect } from '../src/index.js';
import { accept, rawServer } from './peer.js';

let rt: Runtime;
const cleanup: (() => unknown)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await rt.close();
});

async function answering(answer: (key: string, request: string) => string): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = await rawServer(() => undefined, {
    answer: (key, request) => {
      requests.push(request);
      return answer(key, request);
    },
  });
  cleanup.push(() => server.close());
  return { url: `ws://127.0.0.1:${server.port}/path?q=1`, requests };
}

const ok = (key: string, extra = ''): string =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n${extra}\r\n`;

describe('connect', () => {
  it('sends a valid opening handshake: GET, key, version 13, subprotocols, origin, extra headers', async () => {
    rt = createRuntime({ backend: epoll() });
    const { url, requests } = await answering((key) => ok(key, 'Sec-WebSocket-Protocol: b\r\n'));
    const ws = await connect(rt, url, { protocols: ['a', 'b'], origin: 'http://app.example', headers: { authorization: 'Bearer t', 'sec-websocket-key': 'ignored' } });
    expect(ws.protocol).toBe('b');
    const r = requests[0] as string;
    expect(r).toMatch(/^GET \/path\?q=1 HTTP\/1\.1\r\n/);
    expect(r).toMatch(/\r\nHost: 127\.0\.0\.1:\d+\r\n/);
    expect(r).toContain('\r\nConnection: Upgrade\r\n');
    expect(r).toContain('\r\nUpgrade: websocket\r\n');
    expect(r).toContain('\r\nSec-WebSocket-Version: 13\r\n');
    expect(r).toContain('\r\nSec-WebSocket-Protocol: a, b\r\n');
    expect(r).toContain('\r\nOrigin: http://app.example\r\n');
    expect(r).toContain('\r\nauthorization: Bearer t\r\n');
    const keys = [...r.matchAll(/sec-websocket-key: *(\S+)/gi)].map((m) => m[1] as string);
    expect(keys).toHaveLength(1);
    expect(Buffer.from(keys[0] as string, 'base64')).toHaveLength(16);
    ws.terminate();
  });

  it('fails a 101 that is not a valid WebSocket answer', async () => {
    rt = createRuntime({ backend: epoll() });
    const bad: [string, (key: string) => string, string][] = [
      ['wrong accept', () => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept('x')}\r\n\r\n`, 'Sec-WebSocket-Accept'],
      ['no accept', () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 'Sec-WebSocket-Accept'],
      ['upgrade to something else', (key) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`, 'Upgrade'],
      ['no Connection: upgrade', (key) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`, 'Connection'],
      ['an extension not offered', (key) => ok(key, 'Sec-WebSocket-Extensions: permessage-deflate\r\n'), 'extension'],
      ['a subprotocol not offered', (key) => ok(key, 'Sec-WebSocket-Protocol: zzz\r\n'), 'subprotocol zzz'],
    ];
    for (const [what, answer, message] of bad) {
      const { url } = await answering(answer);
      const error = await connect(rt, url, { protocols: ['a'] }).catch((e: unknown) => e);
      expect(error, what).toBeInstanceOf(WebSocketHandshakeError);
      expect((error as Error).message, what).toContain(message);
    }
  });

  it('rejects with the status of a non-101 answer, and with connect errors', async () => {
    rt = createRuntime({ backend: epoll() });
    const { url } = await answering(() => 'HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found');
    const error = await connect(rt, url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketHandshakeError);
    expect((error as WebSocketHandshakeError).status).toBe(404);
    const refused = await connect(rt, 'ws://127.0.0.1:1/').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ErrnoError);
    expect((refused as ErrnoError).code).toBe('ECONNREFUSED');
  });

  it('times out a server that never answers, and honours an AbortSignal', async () => {
    rt = createRuntime({ backend: epoll() });
    const held = new Set<Socket>();
    const silent: Server = createNetServer((s) => held.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanup.push(
      () =>
        new Promise((r) => {
          for (const s of held) s.destroy();
          silent.close(r);
        }),
    );
    const port = (silent.address() as { port: number }).port;
    const timedOut = await connect(rt, `ws://127.0.0.1:${port}/`, { timeout: 100 }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 50);
    const aborted = await connect(rt, `ws://127.0.0.1:${port}/`, { signal: controller.signal }).catch((e: unknown) => e);
    expect((aborted as Error).message).toBe('stop');
  });

  it('refuses bad arguments with InvalidArgumentError; wss: is not supported yet', async () => {
    rt = createRuntime({ backend: epoll() });
    await expect(connect(rt, 'wss://127.0.0.1/')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect(rt, 'ftp://127.0.0.1/')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect(rt, 'ws://127.0.0.1/#frag')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect(rt, 'ws://127.0.0.1/', { protocols: ['a b'] })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect(rt, 'ws://127.0.0.1/', { protocols: ['a', 'a'] })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(connect(rt, 'ws://127.0.0.1/', { maxMessageSize: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('uses a given HttpClient, and frames that came with the 101 are not lost', async () => {
    rt = createRuntime({ backend: epoll() });
    const { url } = await answering((key) => `${ok(key)}\x81\x05hello`);
    const client = new HttpClient(rt);
    cleanup.push(() => client.close());
    const ws = await connect(rt, url, { client });
    expect(await ws.read()).toBe('hello');
    expect(client.connectionCount).toBe(0);
    ws.terminate();
  });
});
